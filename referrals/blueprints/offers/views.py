"""Therapists: the inbox of offers, answering them, and the referrals they accepted."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm import selectinload

from referrals import audit
from referrals.blueprints.common import apply_service_error, refuse
from referrals.blueprints.offers import bp
from referrals.blueprints.offers.forms import DeclineForm
from referrals.extensions import db
from referrals.models import (
    AuditAction,
    DeclineReason,
    Offer,
    OfferState,
    Pc4Area,
    Referral,
    ReferralState,
    Trajectory,
    local_today,
    utcnow,
)
from referrals.permissions import Role, offer_for, roles_required
from referrals.services import ServiceError
from referrals.services.referrals import offers
from referrals.services.therapists import expiry_warning, geo, therapist_of


def area_of(postcode: str) -> str:
    """The PC4 area and its place, e.g. "2201 Noordwijk": enough to decide, not an address."""
    pc4 = geo.parse_pc4(postcode)
    area = db.session.get(Pc4Area, pc4) if pc4 else None
    return f"{pc4} {area.place}" if area else str(pc4 or "")


def get_offer_or_404(offer_id: int) -> Offer:
    """Only the therapist's own offers, and only while open or after they accepted it."""
    offer = offer_for(current_user, offer_id)
    if offer is None:
        abort(404)
    return offer


CLOSED_SHOWN = 50


@bp.get("/offers")
@roles_required(Role.THERAPIST)
def inbox():
    therapist = therapist_of(current_user)
    if therapist is None:
        return render_template(
            "offers/inbox.html", therapist=None, open_offers=[], accepted=[], closed=[]
        )
    open_offers = db.session.scalars(
        sa.select(Offer)
        .where(Offer.therapist_id == therapist.id, Offer.state == OfferState.OPEN)
        .order_by(Offer.deadline_at)
    ).all()
    accepted = db.session.scalars(
        sa.select(Referral)
        .where(
            Referral.therapist_id == therapist.id,
            Referral.state.in_([ReferralState.ACCEPTED, ReferralState.ACTIVE]),
        )
        .order_by(Referral.updated_at.desc())
        .options(selectinload(Referral.participant), selectinload(Referral.offers))
    ).all()
    # One query each for the offered referrals and the trajectories, not one per row.
    by_id = {
        r.id: r
        for r in db.session.scalars(
            sa.select(Referral).where(Referral.id.in_([o.referral_id for o in open_offers]))
        )
    }
    referrals = {offer.id: by_id[offer.referral_id] for offer in open_offers}
    trajectories = {
        t.referral_id: t
        for t in db.session.scalars(
            sa.select(Trajectory).where(Trajectory.referral_id.in_([r.id for r in accepted]))
        )
    }
    # Closed trajectories, newest first: to read back the outcome and the closing letter.
    closed = db.session.scalars(
        sa.select(Trajectory)
        .where(Trajectory.therapist_id == therapist.id, Trajectory.closed_at.is_not(None))
        .order_by(Trajectory.closed_at.desc())
        .limit(CLOSED_SHOWN)
        .options(selectinload(Trajectory.referral).selectinload(Referral.participant))
    ).all()
    for trajectory in closed:
        audit.record(
            AuditAction.READ,
            obj=trajectory,
            participant_id=trajectory.referral.participant_id,
            detail="inbox",
        )
    for offer in open_offers:
        referral = referrals[offer.id]
        audit.record(
            AuditAction.READ, obj=offer, participant_id=referral.participant_id, detail="inbox"
        )
    for referral in accepted:
        audit.record(
            AuditAction.READ, obj=referral, participant_id=referral.participant_id, detail="inbox"
        )
    # Render first, then commit the audit rows: a commit before would expire every loaded row
    # and the template would load them again one by one.
    page = render_template(
        "offers/inbox.html",
        therapist=therapist,
        open_offers=open_offers,
        referrals=referrals,
        accepted=accepted,
        now=utcnow(),
        warning=expiry_warning(therapist, local_today()),
        trajectory_of=lambda referral: trajectories.get(referral.id),
        closed=closed,
        place_of=area_of,
    )
    return page


@bp.get("/offers/<int:offer_id>")
@roles_required(Role.THERAPIST)
def offer(offer_id: int):
    offer = get_offer_or_404(offer_id)
    referral = db.session.get(Referral, offer.referral_id)
    audit.record(AuditAction.READ, obj=offer, participant_id=referral.participant_id)
    return render_template(
        "offers/offer.html",
        offer=offer,
        referral=referral,
        now=utcnow(),
        full_details=offer.state is OfferState.ACCEPTED,
        trajectory=db.session.scalar(
            sa.select(Trajectory).where(Trajectory.referral_id == referral.id)
        ),
        decline_form=DeclineForm(),
        place_of=area_of,
    )


@bp.post("/offers/<int:offer_id>/accept")
@roles_required(Role.THERAPIST)
def accept(offer_id: int):
    offer = get_offer_or_404(offer_id)
    try:
        offers.accept_offer(offer, actor=current_user)
    except ServiceError as error:
        refuse(error)
        return redirect(url_for("offers.inbox"))
    flash(
        _("You accepted the referral. The referrer and the coordinator have been told."), "success"
    )
    return redirect(url_for("offers.offer", offer_id=offer.id))


@bp.route("/offers/<int:offer_id>/decline", methods=["GET", "POST"])
@roles_required(Role.THERAPIST)
def decline(offer_id: int):
    offer = get_offer_or_404(offer_id)
    form = DeclineForm()
    if form.validate_on_submit():
        try:
            offers.decline_offer(
                offer,
                actor=current_user,
                reason=DeclineReason(form.reason.data),
                note=form.note.data or "",
            )
        except offers.OfferRefused as error:
            refuse(error)
            return redirect(url_for("offers.inbox"))
        except ServiceError as error:
            apply_service_error(form, error)
        else:
            flash(
                _("You declined the offer. The coordinator will offer it to someone else."),
                "success",
            )
            return redirect(url_for("offers.inbox"))
    referral = db.session.get(Referral, offer.referral_id)
    audit.record(
        AuditAction.READ, obj=offer, participant_id=referral.participant_id, detail="decline"
    )
    page = render_template("offers/decline.html", form=form, offer=offer, referral=referral)
    return page
