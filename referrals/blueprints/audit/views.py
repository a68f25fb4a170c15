"""The access log for administrators: paged and filtered; reading it is itself logged."""

from __future__ import annotations

from flask import current_app, render_template, request
from flask_login import current_user

from referrals.blueprints.admin.forms import (
    ACTION_LABELS,
    OBJECT_LABELS,
    ROLE_LABELS,
    AuditFilterForm,
)
from referrals.blueprints.audit import bp
from referrals.blueprints.common import page_number
from referrals.permissions import Role, roles_required
from referrals.services.accounts.audit_log import AuditFilter, AuditPage, audit_log_page


@bp.get("/")
@roles_required(Role.ADMIN)
def log():
    form = AuditFilterForm(request.args)
    valid = form.validate()
    page = page_number(request.args)
    page_size = current_app.config["AUDIT_PAGE_SIZE"]
    shown = AuditPage()
    if valid:
        filters = AuditFilter(
            user_id=form.user_id.data,
            participant_id=form.participant_id.data,
            action=form.action.data or None,
            date_from=form.date_from.data,
            date_to=form.date_to.data,
        )
        shown = audit_log_page(current_user, filters, page=page, size=page_size)
    args = {k: v for k, v in request.args.items() if k != "page"}
    return render_template(
        "audit/log.html",
        form=form,
        events=shown.events,
        page=page,
        has_next=shown.has_next,
        args=args,
        action_labels=ACTION_LABELS,
        role_labels=ROLE_LABELS,
        object_labels=OBJECT_LABELS,
    )
