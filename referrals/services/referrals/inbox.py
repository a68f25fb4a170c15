"""The therapist's pages about offers, as read services: each loads what its page shows in a
fixed number of queries, only the therapist's own (referrals.permissions), writes one read row
per participant shown, and returns a plain object for the template."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa

from referrals import audit
from referrals.extensions import db
from referrals.models import (
    AuditAction,
    Offer,
    OfferState,
    Participant,
    Pc4Area,
    Referral,
    ReferralState,
    Therapist,
    Trajectory,
    User,
    local_today,
    utcnow,
)
from referrals.permissions import offer_for, offers_visible_to
from referrals.services import Cursor, KeysetPage, keyset_page
from referrals.services.therapists import expiry_warning, geo, therapist_of


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
class OpenOffer:
    """A row of the open offers: what the therapist needs to decide, no name or address."""

    id: int
    deadline_at: datetime
    overdue: bool  # Offer.is_overdue_at: past the deadline, not yet expired by the worker
    hours_left: int
    reference: str
    first_name: str
    age: int
    area: str
    reasons: list[str]
    preferred_form: str
    preferred_days: list[str]


@dataclass
class Inbox:
    """The inbox's three lists as plain rows (the columns the page shows, no model objects):
    open offers (OpenOffer); accepted referrals (offer_id, reference, first_name, last_name,
    state, trajectory_id or None), as many as the therapist's places (at most 200); one
    keyset page of the closed trajectories, newest first (id, reference, first_name,
    last_name, closed_at, outcome), and how many there are."""

    therapist: Therapist | None
    open_offers: list[OpenOffer] = field(default_factory=list)
    accepted: list = field(default_factory=list)
    closed: KeysetPage = field(default_factory=KeysetPage)
    closed_count: int = 0
    warning: str | None = None


def therapist_inbox(
    user: User,
    *,
    closed_cursors: tuple[Cursor | None, Cursor | None] = (None, None),
    closed_size: int,
) -> Inbox:
    """Open offers (deadline first), accepted and active participants, and one page of the
    closed trajectories (newest first, after or before a cursor: `(after, before)`), with
    the outcome and the letter within reach. Only the columns shown, one query per list: a
    therapist has scores of participants, and over the years hundreds of closed ones."""
    therapist = therapist_of(user)
    if therapist is None:
        return Inbox(therapist=None)
    offered = db.session.execute(
        offers_visible_to(user)
        .with_only_columns(
            Offer.id,
            Offer.deadline_at,
            Offer.state,
            Referral.reference,
            Referral.participant_id,
            Referral.reasons,
            Referral.preferred_form,
            Referral.preferred_days,
            Participant.first_name,
            Participant.date_of_birth,
            Participant.postcode,
        )
        .join_from(Offer, Referral, Referral.id == Offer.referral_id)
        .join(Participant, Participant.id == Referral.participant_id)
        .where(Offer.state == OfferState.OPEN)
        .order_by(Offer.deadline_at)
    ).all()
    # The offer accepted last (referrals of theirs have one), and the trajectory if begun.
    accepted_offer = (
        sa.select(sa.func.max(Offer.id))
        .where(Offer.referral_id == Referral.id, Offer.state == OfferState.ACCEPTED)
        .correlate(Referral)
        .scalar_subquery()
    )
    accepted = db.session.execute(
        sa.select(
            Referral.id,
            Referral.participant_id,
            accepted_offer.label("offer_id"),
            Referral.reference,
            Participant.first_name,
            Participant.last_name,
            Referral.state,
            Trajectory.id.label("trajectory_id"),
        )
        .join_from(Referral, Participant, Participant.id == Referral.participant_id)
        .outerjoin(Trajectory, Trajectory.referral_id == Referral.id)
        .where(
            Referral.therapist_id == therapist.id,
            Referral.state.in_([ReferralState.ACCEPTED, ReferralState.ACTIVE]),
        )
        .order_by(Referral.updated_at.desc())
    ).all()
    closed_after, closed_before = closed_cursors
    closed = keyset_page(
        sa.select(
            Trajectory.id,
            Referral.participant_id,
            Referral.reference,
            Participant.first_name,
            Participant.last_name,
            Trajectory.closed_at,
            Trajectory.outcome,
        )
        .join_from(Trajectory, Referral, Referral.id == Trajectory.referral_id)
        .join(Participant, Participant.id == Referral.participant_id)
        .where(Trajectory.therapist_id == therapist.id, Trajectory.closed_at.is_not(None)),
        Trajectory.closed_at,
        Trajectory.id,
        size=closed_size,
        after=closed_after,
        before=None if closed_after else closed_before,
        columns=True,
    )
    closed_count = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Trajectory)
        .where(Trajectory.therapist_id == therapist.id, Trajectory.closed_at.is_not(None))
    )
    now = utcnow()
    areas = areas_of({row.postcode for row in offered})
    open_offers = [
        OpenOffer(
            id=row.id,
            deadline_at=row.deadline_at,
            overdue=row.state is OfferState.OPEN and now >= row.deadline_at,
            hours_left=int((row.deadline_at - now).total_seconds() // 3600),
            reference=row.reference,
            first_name=row.first_name,
            age=_age_on(row.date_of_birth, now.date()),
            area=areas.get(row.postcode, ""),
            reasons=row.reasons,
            preferred_form=row.preferred_form,
            preferred_days=row.preferred_days,
        )
        for row in offered
    ]
    inbox = Inbox(
        therapist=therapist,
        open_offers=open_offers,
        accepted=accepted,
        closed=closed,
        closed_count=closed_count,
        warning=expiry_warning(therapist, local_today()),
    )
    audit.record_many(
        AuditAction.READ,
        [
            *((("trajectories", row.id), row.participant_id) for row in closed.rows),
            *((("offers", row.id), row.participant_id) for row in offered),
            *((("referrals", row.id), row.participant_id) for row in accepted),
        ],
        actor=user,
        detail="inbox",
    )
    return inbox


def _age_on(date_of_birth: date, day: date) -> int:
    """Participant.age_on, from the column alone."""
    before_birthday = (day.month, day.day) < (date_of_birth.month, date_of_birth.day)
    return day.year - date_of_birth.year - before_birthday


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
