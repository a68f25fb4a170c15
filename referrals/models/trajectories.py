"""Trajectories: what happens after a therapist accepts a referral."""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from referrals.models.base import Base, TimestampMixin, UTCDateTime
from referrals.models.intake import Referral
from referrals.models.therapists import Therapist


class Trajectory(TimestampMixin, Base):
    """One participant's trajectory with one therapist: intake and the walk/run plan.

    The plan is stored as JSON written by services.trajectories (weeks and the history of
    changes), so a changed week never loses what was planned before.
    """

    __tablename__ = "trajectories"
    __table_args__ = (
        sa.CheckConstraint(
            "intake_on IS NULL OR (can_walk_min IS NOT NULL AND can_run_min IS NOT NULL)",
            name="intake_complete",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(sa.ForeignKey("referrals.id"), unique=True)
    therapist_id: Mapped[int] = mapped_column(sa.ForeignKey("therapists.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    intake_on: Mapped[date | None]
    can_walk_min: Mapped[int | None]
    can_run_min: Mapped[int | None]
    intake_remarks: Mapped[str | None] = mapped_column(sa.Text)
    plan: Mapped[dict | None] = mapped_column(sa.JSON)

    referral: Mapped[Referral] = relationship()
    therapist: Mapped[Therapist] = relationship()
