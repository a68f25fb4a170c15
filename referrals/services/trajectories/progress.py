"""A participant's attendance and progress, as the trajectory page shows it (therapist only)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import ngettext
from markupsafe import Markup
from sqlalchemy.orm import contains_eager

from referrals.charts import run_minutes_chart
from referrals.extensions import db
from referrals.models import Attendance, SessionAttendance, TrainingSession, Trajectory
from referrals.services.trajectories import plan_from_json

LAST_SESSIONS = 5


@dataclass(frozen=True)
class SessionLine:
    session_id: int
    held_on: date
    group_name: str | None  # None: an individual session
    attendance: Attendance
    week_number: int | None
    planned_run_min: int | None
    planned_total_min: int | None
    done_run_min: int | None
    done_total_min: int | None
    borg: int | None
    note: str | None


@dataclass(frozen=True)
class Progress:
    planned: list[int]
    done: list[int | None]
    chart: Markup
    counts: dict[Attendance, int]
    rate: float | None  # present / all logged rows
    last_sessions: list[SessionLine]

    @property
    def logged(self) -> int:
        return sum(self.counts.values())


def _rows(trajectory: Trajectory) -> list[SessionAttendance]:
    """Every attendance row of the trajectory with its session and group: one query."""
    return list(
        db.session.scalars(
            sa.select(SessionAttendance)
            .join(SessionAttendance.session)
            .where(SessionAttendance.trajectory_id == trajectory.id)
            .options(contains_eager(SessionAttendance.session).joinedload(TrainingSession.group))
            .order_by(TrainingSession.held_on.desc(), SessionAttendance.id.desc())
        )
    )


def _done_per_week(rows: list[SessionAttendance], weeks: int) -> list[int | None]:
    done: list[int | None] = [None] * weeks
    for row in rows:
        present = row.attendance is Attendance.PRESENT
        if present and row.week_number and row.done_run_min is not None:
            i = min(row.week_number, weeks) - 1
            done[i] = (done[i] or 0) + row.done_run_min
    return done


def _line(row: SessionAttendance) -> SessionLine:
    group = row.session.group
    return SessionLine(
        session_id=row.session_id,
        held_on=row.session.held_on,
        group_name=group.name if group else None,
        attendance=row.attendance,
        week_number=row.week_number,
        planned_run_min=row.planned_run_min,
        planned_total_min=row.planned_total_min,
        done_run_min=row.done_run_min,
        done_total_min=row.done_total_min,
        borg=row.borg,
        note=row.note,
    )


def progress_summary(trajectory: Trajectory) -> Progress | None:
    """Run minutes per week against the plan, attendance and the last sessions; None before
    the intake."""
    if trajectory.plan is None:
        return None
    planned = [w.session.total_run_min for w in plan_from_json(trajectory.plan).weeks]
    rows = _rows(trajectory)
    done = _done_per_week(rows, len(planned))
    counts = Counter(row.attendance for row in rows)
    counts = {kind: counts.get(kind, 0) for kind in Attendance}
    logged = sum(counts.values())
    weeks_done = sum(1 for value in done if value is not None)
    chart = run_minutes_chart(
        planned,
        done,
        title=_("Minutes of running per week"),
        desc=ngettext(
            "Planned minutes of running for %(weeks)d weeks as a line; done minutes as bars"
            " for %(num)d week with a session.",
            "Planned minutes of running for %(weeks)d weeks as a line; done minutes as bars"
            " for %(num)d weeks with a session.",
            weeks_done,
            weeks=len(planned),
        ),
        week_label=_("Week"),
        unit_label=_("min"),
        planned_label=_("Planned"),
        done_label=_("Done"),
        empty_label=_("No data"),
        id_prefix=f"progress-{trajectory.id}",
    )
    return Progress(
        planned=planned,
        done=done,
        chart=chart,
        counts=counts,
        rate=counts[Attendance.PRESENT] / logged if logged else None,
        last_sessions=[_line(row) for row in rows[:LAST_SESSIONS]],
    )
