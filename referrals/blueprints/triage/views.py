"""Coordinators: the queue of referrals waiting for triage, and rejection with a reason."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user

from referrals.blueprints.intake.views import audit_listed, get_referral_or_404, visible_referrals
from referrals.blueprints.triage import bp
from referrals.blueprints.triage.forms import RejectForm
from referrals.extensions import db
from referrals.models import AuditAction, Referral, ReferralState, RejectionReason, utcnow
from referrals.permissions import Role, can_reject, roles_required
from referrals.services import ServiceError, intake


@bp.get("/triage")
@roles_required(Role.COORDINATOR)
def queue():
    """Referrals in the coordinator's programmes that wait for triage, oldest first."""
    referrals = db.session.scalars(
        visible_referrals(current_user)
        .where(Referral.state == ReferralState.SUBMITTED)
        .order_by(Referral.submitted_at, Referral.id)
    ).all()
    audit_listed(referrals, AuditAction.READ, "triage queue")
    db.session.commit()
    return render_template("triage/queue.html", referrals=referrals, now=utcnow())


@bp.route("/triage/<int:referral_id>/reject", methods=["GET", "POST"])
@roles_required(Role.COORDINATOR, Role.REFERRER)
def reject(referral_id: int):
    referral = get_referral_or_404(referral_id)
    if not can_reject(current_user, referral):
        abort(403)
    form = RejectForm()
    if form.validate_on_submit():
        try:
            intake.reject_referral(
                referral,
                actor=current_user,
                reason=RejectionReason(form.reason.data),
                note=form.note.data or "",
            )
        except intake.TransitionRefused as error:
            db.session.rollback()
            flash(error.message, "error")
            return redirect(url_for("intake.referral", referral_id=referral.id))
        except ServiceError as error:
            db.session.rollback()
            getattr(form, error.field or "note").errors.append(error.message)
        else:
            db.session.commit()
            flash(_("Referral %(reference)s rejected.", reference=referral.reference), "success")
            return redirect(url_for("triage.queue"))
    return render_template("triage/reject.html", form=form, referral=referral)
