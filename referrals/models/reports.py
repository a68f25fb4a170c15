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

    A database trigger refuses UPDATE (not DELETE: erasure and retention must stay possible), so
    what a referrer or funder received can always be shown again exactly and checked against
    its hash.
    """

    __tablename__ = "reports"
    __table_args__ = (
        sa.CheckConstraint(
            "(kind = 'closing_letter' AND trajectory_id IS NOT NULL)"
            " OR (kind = 'progress' AND programme_id IS NOT NULL)",
            name="kind_has_subject",
        ),
        # Versions of one programme's report on one period are numbered 1, 2, 3 ... once each,
        # however many workers render at the same time.
        sa.Index(
            "ux_reports_progress_version",
            "programme_id",
            "period_start",
            "period_end",
            "version",
            unique=True,
            sqlite_where=sa.text("kind = 'progress'"),
            postgresql_where=sa.text("kind = 'progress'"),
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
    version: Mapped[int | None]
    params: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    filename: Mapped[str] = mapped_column(sa.String(120))
    sha256: Mapped[str] = mapped_column(sa.String(64))
    # Loaded only when the file itself is served, not with every list of reports.
    pdf: Mapped[bytes] = mapped_column(sa.LargeBinary, deferred=True)

    created_by: Mapped[User | None] = relationship()
    trajectory: Mapped[Trajectory | None] = relationship()
    programme: Mapped[Programme | None] = relationship()


class ReportJobState(enum.StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ReportJob(Base):
    """A request to render a programme report, picked up by the worker (`flask render-reports`)
    so that a slow render never holds up a web request. A failed job keeps what went wrong and
    leaves no report behind."""

    __tablename__ = "report_jobs"
    __table_args__ = (
        sa.CheckConstraint("period_end >= period_start", name="period_order"),
        sa.CheckConstraint("state <> 'done' OR report_id IS NOT NULL", name="done_has_report"),
        sa.Index("ix_report_jobs_state_requested_at", "state", "requested_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(sa.ForeignKey("programmes.id"), index=True)
    period_start: Mapped[date]
    period_end: Mapped[date]
    requested_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[ReportJobState] = mapped_column(
        enum_column_type(ReportJobState, "report_job_state")
    )
    attempts: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(sa.String(500))
    report_id: Mapped[int | None] = mapped_column(sa.ForeignKey("reports.id"))

    programme: Mapped[Programme] = relationship()
    requested_by: Mapped[User | None] = relationship()
    report: Mapped[Report | None] = relationship()
