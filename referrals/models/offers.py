"""Offers: a referral offered to one therapist until a deadline, and the therapist's answer."""

from __future__ import annotations

import enum
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from referrals.models.accounts import User
from referrals.models.base import Base, UTCDateTime, enum_column_type
from referrals.models.therapists import Therapist


class OfferState(enum.StrEnum):
    OPEN = "open"
    ACCEPTED = "accepted"
    DECLINED = "declined"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


class DeclineReason(enum.StrEnum):
    NO_CAPACITY = "no_capacity"
    SCHEDULE = "schedule"
    DISTANCE = "distance"
    NOT_SUITABLE = "not_suitable"
    OTHER = "other"


class Offer(Base):
    """A referral offered to one therapist until a deadline, and the therapist's answer."""

    __tablename__ = "offers"
    __table_args__ = (
        sa.CheckConstraint(
            "state <> 'declined' OR decline_reason IS NOT NULL", name="declined_has_reason"
        ),
        sa.CheckConstraint("state = 'open' OR responded_at IS NOT NULL", name="closed_has_time"),
        sa.Index("ix_offers_therapist_id_state", "therapist_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(sa.ForeignKey("referrals.id"), index=True)
    therapist_id: Mapped[int] = mapped_column(sa.ForeignKey("therapists.id"))
    offered_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    state: Mapped[OfferState] = mapped_column(enum_column_type(OfferState, "offer_state"))
    responded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # When the therapist was reminded that the deadline is near (once per offer).
    reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decline_reason: Mapped[DeclineReason | None] = mapped_column(
        enum_column_type(DeclineReason, "decline_reason")
    )
    decline_note: Mapped[str | None] = mapped_column(sa.Text)

    therapist: Mapped[Therapist] = relationship()
    offered_by: Mapped[User | None] = relationship()

    def is_open_at(self, now: datetime) -> bool:
        """Open and before its deadline: a passed deadline counts as expired at once."""
        return self.state is OfferState.OPEN and now < self.deadline_at

    def is_overdue_at(self, now: datetime) -> bool:
        """Still open in the database, but past its deadline: the worker has yet to expire it.
        Pages show it as passed, and nobody can accept or decline it any more."""
        return self.state is OfferState.OPEN and now >= self.deadline_at
