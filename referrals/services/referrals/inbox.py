"""The therapist's pages about offers, as read services: each loads what its page shows in a
fixed number of queries, only the therapist's own (referrals.permissions), writes one read row
per participant shown, and returns a plain object for the template."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from referrals import audit
from referrals.extensions import db
from referrals.models import (
    AuditAction,
    Offer,
    OfferState,
    Pc4Area,
    Referral,
    ReferralState,
    Therapist,
    Trajectory,
    User,
    local_today,
)
from referrals.permissions import offer_for, offers_visible_to
from referrals.services.therapists import expiry_warning, geo, therapist_of

CLOSED_SHOWN = 50


def area_of(postcode: str) -> str:
    """The PC4 area and its place, e.g. "2201 Noordwijk": enough to decide, not an address."""
    return areas_of([postcode]).get(postcode, "")


def areas_of(postcodes) -> dict[str, str]:
    """area_of for many postcodes in one query: {postcode: "2201 Noordwijk"}."""
    pc4s = {postcode: geo.parse_pc4(postcode) for postcode in postcodes}
    wanted = {pc4 for pc4 in pc4s.values() if pc4}
    places = (
        dict(
            db.session.execute(
                sa.select(Pc4Area.pc4, Pc4Area.place).where(Pc4Area.pc4.in_(wanted))
            ).all()
        )
        if wanted
        else {}
    )
    return {
        postcode: f"{pc4} {places[pc4]}" if pc4 in places else str(pc4 or "")
        for postcode, pc4 in pc4s.items()
    }


@dataclass
class Inbox:
    therapist: Therapist | None
    open_offers: list[Offer] = field(default_factory=list)
    referrals: dict[int, Referral] = field(default_factory=dict)  # by offer id
    accepted: list[Referral] = field(default_factory=list)
    trajectories: dict[int, Trajectory] = field(default_factory=dict)  # by referral id
    closed: list[Trajectory] = field(default_factory=list)
    warning: str | None = None
    areas: dict[str, str] = field(default_factory=dict)  # by postcode, of the open offers

    def place_of(self, postcode: str) -> str:
        return self.areas.get(postcode, "")

    def trajectory_of(self, referral: Referral) -> Trajectory | None:
        return self.trajectories.get(referral.id)


def therapist_inbox(user: User) -> Inbox:
    """Open offers (deadline first), accepted and active participants, and the latest closed
    trajectories, with the outcome and the letter within reach."""
    therapist = therapist_of(user)
    if therapist is None:
        return Inbox(therapist=None)
    open_offers = db.session.scalars(
        offers_visible_to(user).where(Offer.state == OfferState.OPEN).order_by(Offer.deadline_at)
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
            sa.select(Referral)
            .where(Referral.id.in_([o.referral_id for o in open_offers]))
            .options(selectinload(Referral.participant))
        )
    }
    trajectories = {
        t.referral_id: t
        for t in db.session.scalars(
            sa.select(Trajectory).where(Trajectory.referral_id.in_([r.id for r in accepted]))
        )
    }
    closed = db.session.scalars(
        sa.select(Trajectory)
        .where(Trajectory.therapist_id == therapist.id, Trajectory.closed_at.is_not(None))
        .order_by(Trajectory.closed_at.desc())
        .limit(CLOSED_SHOWN)
        .options(selectinload(Trajectory.referral).selectinload(Referral.participant))
    ).all()
    inbox = Inbox(
        therapist=therapist,
        open_offers=open_offers,
        referrals={offer.id: by_id[offer.referral_id] for offer in open_offers},
        accepted=accepted,
        trajectories=trajectories,
        closed=closed,
        warning=expiry_warning(therapist, local_today()),
        areas=areas_of({r.participant.postcode for r in by_id.values()}),
    )
    _audit_inbox(user, inbox)
    return inbox


def _audit_inbox(user: User, inbox: Inbox) -> None:
    shown = [
        *((t, t.referral.participant_id) for t in inbox.closed),
        *((o, inbox.referrals[o.id].participant_id) for o in inbox.open_offers),
        *((r, r.participant_id) for r in inbox.accepted),
    ]
    audit.record_many(AuditAction.READ, shown, actor=user, detail="inbox")


def _read(user: User, obj, participant_id: int, detail: str | None) -> None:
    audit.record(
        AuditAction.READ, actor=user, obj=obj, participant_id=participant_id, detail=detail
    )


@dataclass
class OfferPage:
    offer: Offer
    referral: Referral
    trajectory: Trajectory | None

    @property
    def full_details(self) -> bool:
        """Name, contact and the referrer's text only after accepting."""
        return self.offer.state is OfferState.ACCEPTED


def offer_page(user: User, offer_id: int, *, detail: str | None = None) -> OfferPage | None:
    """One of the therapist's own offers (open or accepted), read and logged; None otherwise."""
    offer = offer_for(user, offer_id)
    if offer is None:
        return None
    referral = db.session.get(Referral, offer.referral_id)
    trajectory = db.session.scalar(
        sa.select(Trajectory).where(Trajectory.referral_id == referral.id)
    )
    _read(user, offer, referral.participant_id, detail)
    return OfferPage(offer=offer, referral=referral, trajectory=trajectory)
