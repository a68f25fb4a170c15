"""The access log for administrators: paged, filtered and searchable by referral or participant
name; reading it is itself logged. Each row is said in words (referrals/audit_labels.py)."""

from __future__ import annotations

from flask import current_app, render_template, request
from flask_login import current_user

from referrals.audit_labels import action_label, describe, participant_phrase
from referrals.blueprints.admin.forms import ROLE_LABELS, AuditFilterForm
from referrals.blueprints.audit import bp
from referrals.permissions import Role, roles_required
from referrals.services import Cursor
from referrals.services.accounts.audit_log import AuditFilter, AuditPage, audit_log_page


@bp.get("/")
@roles_required(Role.ADMIN)
def log():
    form = AuditFilterForm(request.args)
    valid = form.validate()
    after, before = (Cursor.parse(request.args.get(name)) for name in ("after", "before"))
    page_size = current_app.config["AUDIT_PAGE_SIZE"]
    shown = AuditPage()
    if valid:
        filters = AuditFilter(
            user_id=form.user_id.data,
            participant_id=form.participant_id.data,
            action=form.action.data or None,
            date_from=form.date_from.data,
            date_to=form.date_to.data,
            reference=form.reference.data or None,
            name=form.name.data or None,
        )
        shown = audit_log_page(current_user, filters, after=after, before=before, size=page_size)
        for name, message in shown.errors.items():
            form[name].errors = [*form[name].errors, message]
    args = {k: v for k, v in request.args.items() if k not in ("page", "after", "before")}
    return render_template(
        "audit/log.html",
        form=form,
        rows=[(event, describe(event, shown.names)) for event in shown.events],
        names=shown.names,
        name_matches=shown.name_matches,
        shown=shown,
        args=args,
        action_label=action_label,
        participant_phrase=participant_phrase,
        role_labels=ROLE_LABELS,
    )
