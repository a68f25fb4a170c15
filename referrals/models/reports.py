"""Reports: generated PDFs kept as they were sent, with what they were made from."""

from __future__ import annotations

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from referrals.models.accounts import User
from referrals.models.base import Base, UTCDateTime, enum_column_type
from referrals.models.programmes import Programme
from referrals.models.trajectories import Trajectory


class ReportKind(enum.StrEnum):
    CLOSING_LETTER = "closing_letter"  # to the referrer, about one trajectory
    PROGRESS = "progress"  # to the funder, about one programme and period


class Report(Base):
    """A generated PDF, immutable once written: the bytes, their SHA-256 and the parameters.

    A database trigger refuses UPDATE and DELETE, so what a referrer or funder received can
    always be shown again exactly and checked against its hash.
    """

    __tablename__ = "reports"
    __table_args__ = (
        sa.CheckConstraint(
            "(kind = 'closing_letter' AND trajectory_id IS NOT NULL)"
            " OR (kind = 'progress' AND programme_id IS NOT NULL)",
            name="kind_has_subject",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[ReportKind] = mapped_column(enum_column_type(ReportKind, "report_kind"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    trajectory_id: Mapped[int | None] = mapped_column(sa.ForeignKey("trajectories.id"), index=True)
    programme_id: Mapped[int | None] = mapped_column(sa.ForeignKey("programmes.id"), index=True)
    period_start: Mapped[date | None]
    period_end: Mapped[date | None]
    params: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    filename: Mapped[str] = mapped_column(sa.String(120))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    pdf: Mapped[bytes] = mapped_column(sa.LargeBinary)

    created_by: Mapped[User | None] = relationship()
    trajectory: Mapped[Trajectory | None] = relationship()
    programme: Mapped[Programme | None] = relationship()
