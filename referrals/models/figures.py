"""Programme figures kept per Dutch calendar month, so that the dashboard adds up a few dozen
rows instead of reading every referral, trajectory and attendance of a programme.

- ProgrammeFigure: one counter of one month, for example ("reason", "stress") or
  ("wait_offer", "3"): how many referrals submitted that month had that reason, or waited three
  days for their first offer. `total` holds a sum where the counter needs one (the sum of the
  score changes of an outcome). services.uptake.figures writes and reads them.
- FigureMark: "this programme's figures around this day may have changed". Database triggers
  (migration 9b1d4e7c2a60) add a mark in the same transaction as every insert, update or delete
  of a referral, offer, trajectory, attendance or questionnaire response that the figures count,
  whoever writes it: a form, a bulk UPDATE, an erasure. `day` is the UTC date of the changed
  timestamp (or the attendance's date); services.uptake.figures.refresh turns marks into months
  to count again. Marks are only ever inserted by the triggers and deleted by the refresh, so
  two writers never wait for each other on a mark.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from referrals.models.base import Base


class ProgrammeFigure(Base):
    __tablename__ = "programme_figures"

    programme_id: Mapped[int] = mapped_column(
        sa.ForeignKey("programmes.id", ondelete="CASCADE"), primary_key=True
    )
    month: Mapped[str] = mapped_column(sa.String(7), primary_key=True)  # "2026-10"
    figure: Mapped[str] = mapped_column(sa.String(30), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    count: Mapped[int]
    total: Mapped[float] = mapped_column(sa.Float, default=0.0)


class FigureMark(Base):
    __tablename__ = "figure_marks"

    id: Mapped[int] = mapped_column(primary_key=True)
    programme_id: Mapped[int] = mapped_column(index=True)  # no foreign key: marks outlive rows
    day: Mapped[date]
