"""The access log for administrators: paged and filtered; reading it is itself logged."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app, render_template, request
from flask_babel import get_timezone

from referrals import audit
from referrals.blueprints.admin.forms import (
    ACTION_LABELS,
    OBJECT_LABELS,
    ROLE_LABELS,
    AuditFilterForm,
)
from referrals.blueprints.audit import bp
from referrals.blueprints.common import page_of
from referrals.extensions import db
from referrals.models import AuditAction, AuditEvent
from referrals.permissions import Role, roles_required


def _local_midnight(day) -> datetime:
    """The start of `day` in the interface's time zone, as an aware datetime."""
    return datetime.combine(day, time.min, tzinfo=get_timezone())


def _filtered_query(form: AuditFilterForm) -> tuple[sa.Select, list[str]]:
    query = sa.select(AuditEvent)
    used = []
    if form.user_id.data:
        query = query.where(AuditEvent.user_id == form.user_id.data)
        used.append(f"user={form.user_id.data}")
    if form.participant_id.data:
        query = query.where(AuditEvent.participant_id == form.participant_id.data)
        used.append(f"participant={form.participant_id.data}")
    if form.action.data:
        query = query.where(AuditEvent.action == AuditAction(form.action.data))
        used.append(f"action={form.action.data}")
    if form.date_from.data:
        query = query.where(AuditEvent.occurred_at >= _local_midnight(form.date_from.data))
        used.append(f"from={form.date_from.data.isoformat()}")
    if form.date_to.data:
        end = _local_midnight(form.date_to.data + timedelta(days=1))
        query = query.where(AuditEvent.occurred_at < end)
        used.append(f"to={form.date_to.data.isoformat()}")
    return query, used


@bp.get("/")
@roles_required(Role.ADMIN)
def log():
    form = AuditFilterForm(request.args)
    valid = form.validate()
    page = max(request.args.get("page", 1, type=int), 1)
    page_size = current_app.config["AUDIT_PAGE_SIZE"]
    events, has_next = [], False
    if valid:
        query, used = _filtered_query(form)
        ordered = query.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
        events, has_next = page_of(ordered, page, page_size)
        audit.record(
            AuditAction.SEARCH if used else AuditAction.READ,
            object_type="audit_log",
            participant_id=form.participant_id.data,
            detail=" ".join([*used, f"page={page}"]),
        )
        db.session.commit()
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template(
        "audit/log.html",
        form=form,
        events=events,
        page=page,
        has_next=has_next,
        args=args,
        action_labels=ACTION_LABELS,
        role_labels=ROLE_LABELS,
        object_labels=OBJECT_LABELS,
    )
