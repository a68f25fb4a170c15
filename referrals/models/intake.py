"""Participants, referrals and the events that record every state change."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from referrals.models.accounts import Organisation, User
from referrals.models.base import Base, TimestampMixin, UTCDateTime, enum_column_type
from referrals.models.programmes import Programme

if TYPE_CHECKING:
    from referrals.models.offers import Offer
    from referrals.models.therapists import Therapist


class ReferralState(enum.StrEnum):
    SUBMITTED = "submitted"
    OFFERED = "offered"
    ACCEPTED = "accepted"
    ACTIVE = "active"
    COMPLETED = "completed"
    DROPPED_OUT = "dropped_out"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"

    @property
    def is_open(self) -> bool:
        return self in OPEN_STATES


# States a referral reaches only after a therapist accepted it.
ACCEPTED_STATES = frozenset(
    {
        ReferralState.ACCEPTED,
        ReferralState.ACTIVE,
        ReferralState.COMPLETED,
        ReferralState.DROPPED_OUT,
    }
)

OPEN_STATES = frozenset(
    {ReferralState.SUBMITTED, ReferralState.OFFERED, ReferralState.ACCEPTED, ReferralState.ACTIVE}
)


class Reason(enum.StrEnum):
    STRESS = "stress"
    BURNOUT = "burnout"
    DEPRESSION = "depression"
    ANXIETY = "anxiety"
    LOW_MOOD = "low_mood"
    OTHER = "other"


class PreferredForm(enum.StrEnum):
    GROUP = "group"
    INDIVIDUAL = "individual"
    EITHER = "either"


class Weekday(enum.StrEnum):
    MONDAY = "mon"
    TUESDAY = "tue"
    WEDNESDAY = "wed"
    THURSDAY = "thu"
    FRIDAY = "fri"
    SATURDAY = "sat"
    SUNDAY = "sun"


class RejectionReason(enum.StrEnum):
    NOT_ELIGIBLE = "not_eligible"
    OTHER_CARE = "other_care"
    DUPLICATE = "duplicate"
    OTHER = "other"


class Participant(TimestampMixin, Base):
    """The person referred: the minimum needed to reach them and check eligibility.

    A BSN is only kept when a care provider (a GP practice) referred the person.
    """

    __tablename__ = "participants"

    id: Mapped[int] = mapped_column(primary_key=True)
    first_name: Mapped[str] = mapped_column(sa.String(100))
    last_name: Mapped[str] = mapped_column(sa.String(100))
    date_of_birth: Mapped[date]
    postcode: Mapped[str] = mapped_column(sa.String(7), index=True)
    phone: Mapped[str | None] = mapped_column(sa.String(20))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    bsn: Mapped[str | None] = mapped_column(sa.String(9), index=True)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"

    def age_on(self, day: date) -> int:
        before_birthday = (day.month, day.day) < (self.date_of_birth.month, self.date_of_birth.day)
        return day.year - self.date_of_birth.year - before_birthday


class Referral(TimestampMixin, Base):
    """A referral of one participant into one programme by one referring organisation."""

    __tablename__ = "referrals"
    __table_args__ = (
        sa.CheckConstraint("consent_to_refer", name="consent_required"),
        sa.CheckConstraint(
            "state <> 'rejected' OR rejection_reason IS NOT NULL", name="rejected_has_reason"
        ),
        sa.CheckConstraint(
            "state NOT IN ('rejected', 'withdrawn') OR closed_at IS NOT NULL",
            name="closed_has_time",
        ),
        # The lists' orders, so that a page of 50 is read from an index, not sorted out of
        # a whole programme: newest first per programme and per referring organisation, and
        # the triage queue (oldest first per state).
        sa.Index("ix_referrals_programme_id_submitted_at", "programme_id", "submitted_at", "id"),
        # What the trajectories' copy of the programme refers to.
        sa.UniqueConstraint("id", "programme_id", name="uq_referrals_id_programme_id"),
        sa.Index(
            "ix_referrals_referring_organisation_id_submitted_at",
            "referring_organisation_id",
            "submitted_at",
            "id",
            postgresql_include=["programme_id"],  # the list's programme filter, from the index
        ),
        sa.Index(
            "ix_referrals_programme_id_state_submitted_at",
            "programme_id",
            "state",
            "submitted_at",
            "id",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str | None] = mapped_column(sa.String(20), unique=True)
    # The form's own key (one per loaded form): the same form sent twice saves one referral.
    submission_key: Mapped[str | None] = mapped_column(sa.String(64), unique=True)
    programme_id: Mapped[int] = mapped_column(sa.ForeignKey("programmes.id"))
    participant_id: Mapped[int] = mapped_column(sa.ForeignKey("participants.id"), index=True)
    referring_organisation_id: Mapped[int] = mapped_column(sa.ForeignKey("organisations.id"))
    referrer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    reasons: Mapped[list[str]] = mapped_column(sa.JSON)
    description: Mapped[str] = mapped_column(sa.Text)
    preferred_form: Mapped[PreferredForm] = mapped_column(
        enum_column_type(PreferredForm, "preferred_form")
    )
    preferred_days: Mapped[list[str]] = mapped_column(sa.JSON, default=list)
    consent_to_refer: Mapped[bool]
    consent_share_progress: Mapped[bool]
    state: Mapped[ReferralState] = mapped_column(enum_column_type(ReferralState, "referral_state"))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rejection_reason: Mapped[RejectionReason | None] = mapped_column(
        enum_column_type(RejectionReason, "rejection_reason")
    )
    # The therapist who accepted the referral (set on acceptance).
    therapist_id: Mapped[int | None] = mapped_column(sa.ForeignKey("therapists.id"), index=True)

    programme: Mapped[Programme] = relationship()
    participant: Mapped[Participant] = relationship()
    referring_organisation: Mapped[Organisation] = relationship()
    referrer: Mapped[User] = relationship()
    events: Mapped[list[ReferralEvent]] = relationship(
        back_populates="referral", order_by="ReferralEvent.id"
    )
    therapist: Mapped[Therapist | None] = relationship()
    offers: Mapped[list[Offer]] = relationship(order_by="Offer.id")

    def waiting_days(self, now: datetime) -> int:
        """Days the referral waited: from submission until a therapist accepted it, or until it
        was closed without that (rejected, withdrawn), or up to now while it still waits."""
        accepted = None
        if self.state in ACCEPTED_STATES:  # only these have an acceptance to look up
            accepted = next(
                (e.occurred_at for e in self.events if e.to_state is ReferralState.ACCEPTED), None
            )
        end = accepted or self.closed_at or now
        return max((end - self.submitted_at).days, 0)

    def __repr__(self) -> str:
        return f"<Referral {self.reference} {self.state.value}>"


class ReferralEvent(Base):
    """One state change of a referral: who, when, from which state to which, and why."""

    __tablename__ = "referral_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(sa.ForeignKey("referrals.id"), index=True)
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    from_state: Mapped[ReferralState | None] = mapped_column(
        enum_column_type(ReferralState, "from_state")
    )
    to_state: Mapped[ReferralState] = mapped_column(enum_column_type(ReferralState, "to_state"))
    reason: Mapped[str | None] = mapped_column(sa.String(40))
    note: Mapped[str | None] = mapped_column(sa.Text)

    referral: Mapped[Referral] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()
