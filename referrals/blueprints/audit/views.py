"""The access log for administrators: paged and filtered; reading it is itself logged."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app, render_template, request

from referrals import audit
from referrals.blueprints.admin.forms import (
    ACTION_LABELS,
    OBJECT_LABELS,
    ROLE_LABELS,
    AuditFilterForm,
)
from referrals.blueprints.audit import bp
from referrals.blueprints.common import page_number, page_of
from referrals.models import LOCAL_ZONE, AuditAction, AuditEvent
from referrals.permissions import Role, roles_required


def _local_midnight(day) -> datetime:
    """The start of `day` in the Netherlands, as an aware datetime (zoneinfo, not pytz: pytz
    zones passed as tzinfo carry the 1900 local mean time offset of +00:18)."""
    return datetime.combine(day, time.min, tzinfo=LOCAL_ZONE)


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
    page = page_number(request.args)
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
