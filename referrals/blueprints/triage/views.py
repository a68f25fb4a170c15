"""Coordinators: the queue of referrals waiting for triage, and rejection with a reason."""

from __future__ import annotations

import re

from flask import abort, flash, redirect, render_template, url_for
from flask_babel import format_datetime
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import contains_eager, selectinload

from referrals import audit
from referrals.blueprints.common import drop_changes, refuse
from referrals.blueprints.intake.views import audit_listed, get_referral_or_404
from referrals.blueprints.offers.forms import OfferForm
from referrals.blueprints.triage import bp
from referrals.blueprints.triage.forms import RejectForm
from referrals.extensions import db
from referrals.models import (
    AuditAction,
    Offer,
    OfferState,
    Referral,
    ReferralState,
    RejectionReason,
    Therapist,
    local_today,
    utcnow,
)
from referrals.permissions import Role, can_reject, referrals_visible_to, roles_required
from referrals.services import ServiceError, states
from referrals.services.referrals import intake, offers
from referrals.services.referrals.matching import match_referral
from referrals.services.therapists import expiry_warning


@bp.get("/triage")
@roles_required(Role.COORDINATOR)
def queue():
    """Referrals in the coordinator's programmes that wait for triage, oldest first."""
    with_rows = (  # what the queue shows of each referral, loaded with the page
        contains_eager(Referral.programme),
        selectinload(Referral.referring_organisation),
        selectinload(Referral.offers).selectinload(Offer.therapist),
    )
    referrals = db.session.scalars(
        referrals_visible_to(current_user)
        .where(Referral.state == ReferralState.SUBMITTED)
        .order_by(Referral.submitted_at, Referral.id)
        .options(*with_rows)
    ).all()
    offered = db.session.scalars(
        referrals_visible_to(current_user)
        .where(Referral.state == ReferralState.OFFERED)
        .order_by(Referral.submitted_at, Referral.id)
        .options(*with_rows)
    ).all()
    audit_listed([*referrals, *offered], AuditAction.READ, "triage queue")
    # Render first, then commit the audit rows (a commit first would expire the loaded rows).
    page = render_template("triage/queue.html", referrals=referrals, offered=offered, now=utcnow())
    return page


def last_returned_offer(referral: Referral) -> Offer | None:
    """The most recent declined or expired offer, to show why the referral came back."""
    closed = [o for o in referral.offers if o.state in (OfferState.DECLINED, OfferState.EXPIRED)]
    return closed[-1] if closed else None


def can_offer_now(referral: Referral, now) -> bool:
    """Waiting in the queue, or offered with a deadline that passed: offering again settles the
    passed offer first (offers.offer_referral), also before the worker has run."""
    if referral.state is ReferralState.SUBMITTED:
        return True
    return referral.state is ReferralState.OFFERED and any(
        o.is_overdue_at(now) for o in referral.offers
    )


@bp.get("/triage/<int:referral_id>/match")
@roles_required(Role.COORDINATOR)
def match(referral_id: int):
    """The programme's therapists for this referral, ranked, each with why; and who is out."""
    referral = get_referral_or_404(referral_id)
    result = match_referral(referral, local_today())
    audit.record(
        AuditAction.READ, obj=referral, participant_id=referral.participant_id, detail="matching"
    )
    today = local_today()
    return render_template(
        "triage/match.html",
        referral=referral,
        result=result,
        form=OfferForm(),
        warnings={c.therapist.id: expiry_warning(c.therapist, today) for c in result.candidates},
        can_offer=can_offer_now(referral, utcnow()),
        overdue=[o for o in referral.offers if o.is_overdue_at(utcnow())],
        returned=last_returned_offer(referral),
    )


@bp.post("/triage/<int:referral_id>/offer")
@roles_required(Role.COORDINATOR)
def offer(referral_id: int):
    referral = get_referral_or_404(referral_id)
    form = OfferForm()
    therapist = None
    if form.validate_on_submit() and re.fullmatch(r"[0-9]{1,9}", form.therapist_id.data):
        therapist = db.session.get(Therapist, int(form.therapist_id.data))
    if therapist is None:
        flash(_("Choose a therapist from the list."), "error")
        return redirect(url_for("triage.match", referral_id=referral.id))
    try:
        made = offers.offer_referral(referral, therapist, actor=current_user)
    except ServiceError as error:
        refuse(error)
        return redirect(url_for("triage.match", referral_id=referral.id))
    flash(
        _(
            "Referral %(reference)s offered to %(name)s; answer expected by %(deadline)s.",
            reference=referral.reference,
            name=therapist.name,
            deadline=format_datetime(made.deadline_at, "medium"),
        ),
        "success",
    )
    return redirect(url_for("triage.queue"))


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
        except states.TransitionRefused as error:
            refuse(error)
            return redirect(url_for("intake.referral", referral_id=referral.id))
        except ServiceError as error:
            drop_changes()
            getattr(form, error.field or "note").errors.append(error.message)
        else:
            flash(_("Referral %(reference)s rejected.", reference=referral.reference), "success")
            return redirect(url_for("triage.queue"))
    audit.record(
        AuditAction.READ, obj=referral, participant_id=referral.participant_id, detail="reject"
    )
    page = render_template("triage/reject.html", form=form, referral=referral)
    return page
