"""Logging supervised sessions: attendance, planned and done minutes, Borg, a therapist's note.

A group session is logged once with a row per member; an individual session has one row. The
first session at which a participant is present starts the trajectory: the referral becomes
active. Everything of one log happens in the caller's transaction, or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from flask_babel import gettext as _

from referrals import audit
from referrals.extensions import db
from referrals.models import (
    BORG_MAX,
    BORG_MIN,
    Attendance,
    AuditAction,
    ReferralState,
    SessionAttendance,
    Therapist,
    TrainingGroup,
    TrainingSession,
    Trajectory,
    User,
    local_today,
)
from referrals.services import ServiceError
from referrals.services.states import apply_transition
from referrals.services.trajectories import plan_from_json

MAX_SESSION_MIN = 300


@dataclass(frozen=True)
class PlannedSession:
    week_number: int
    run_min: int
    total_min: int


@dataclass
class AttendanceEntry:
    """What the therapist entered for one participant."""

    trajectory: Trajectory
    attendance: Attendance | None
    done_run_min: int | None = None
    done_total_min: int | None = None
    borg: int | None = None
    note: str = ""


def _monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def week_number_on(trajectory: Trajectory, held_on: date) -> int:
    """Week 1 is the calendar week of the first session attended; clamped to the plan."""
    weeks = len(trajectory.plan["weeks"]) if trajectory.plan else 1
    if trajectory.first_session_on is None:
        return 1
    number = (_monday(held_on) - _monday(trajectory.first_session_on)).days // 7 + 1
    return min(max(number, 1), weeks)


def planned_on(trajectory: Trajectory, held_on: date) -> PlannedSession | None:
    """What the plan asks of the participant in the week of `held_on`; None without a plan."""
    if trajectory.plan is None:
        return None
    number = week_number_on(trajectory, held_on)
    session = plan_from_json(trajectory.plan).week(number).session
    return PlannedSession(number, session.total_run_min, session.total_min)


def planned_of(row: SessionAttendance) -> PlannedSession | None:
    """What the plan asked when the row was logged, as stored with it."""
    if row.week_number is None or row.planned_run_min is None or row.planned_total_min is None:
        return None
    return PlannedSession(row.week_number, row.planned_run_min, row.planned_total_min)


def _entry_errors(entry: AttendanceEntry) -> dict[str, str]:
    errors = {}
    numbers = (entry.done_run_min, entry.done_total_min)
    if entry.attendance is None:
        return {"attendance": _("Choose whether the participant was there.")}
    if entry.attendance is not Attendance.PRESENT:
        if any(v is not None for v in numbers):
            errors["done_run_min"] = _("Leave the minutes empty for someone who was absent.")
        if entry.borg is not None:
            errors["borg"] = _("Leave the exertion empty for someone who was absent.")
        return errors
    for name, value in zip(("done_run_min", "done_total_min"), numbers, strict=True):
        if value is None:
            errors[name] = _("Enter the minutes done, 0 if none.")
        elif not 0 <= value <= MAX_SESSION_MIN:
            errors[name] = _("Enter minutes from 0 to %(max)d.", max=MAX_SESSION_MIN)
    if not errors and entry.done_run_min > entry.done_total_min:
        errors["done_run_min"] = _("Running cannot take longer than the whole session.")
    if entry.borg is not None and not BORG_MIN <= entry.borg <= BORG_MAX:
        errors["borg"] = _(
            "Enter a Borg score from %(min)d to %(max)d.", min=BORG_MIN, max=BORG_MAX
        )
    return errors


def _date_errors(
    held_on: date | None, group: TrainingGroup | None, entries: list[AttendanceEntry]
) -> str | None:
    if held_on is None:
        return _("Enter the date of the session.")
    if held_on > local_today():
        return _("The session date lies in the future.")
    if any(e.trajectory.intake_on and held_on < e.trajectory.intake_on for e in entries):
        return _("The session date lies before the intake.")
    taken = sa.select(TrainingSession.id).where(TrainingSession.held_on == held_on)
    if group is not None:
        taken = taken.where(TrainingSession.group_id == group.id)
    else:
        taken = (
            taken.join(SessionAttendance)
            .where(TrainingSession.group_id.is_(None))
            .where(SessionAttendance.trajectory_id == entries[0].trajectory.id)
        )
    if db.session.scalar(taken.limit(1)) is not None:
        return _("A session on this date has been logged already.")
    return None


def _start_if_first(trajectory: Trajectory, held_on: date, actor: User) -> None:
    if trajectory.first_session_on is not None and trajectory.first_session_on <= held_on:
        return
    moved_back = trajectory.first_session_on is not None
    trajectory.first_session_on = held_on
    if moved_back:
        _renumber_weeks(trajectory)
    if trajectory.referral.state is ReferralState.ACCEPTED:
        apply_transition(trajectory.referral, "start", actor)


def _renumber_weeks(trajectory: Trajectory) -> None:
    """Week 1 moved earlier (a session before the first one was logged late): the rows already
    stored get the week and planned minutes that now apply to their day."""
    rows = db.session.scalars(
        sa.select(SessionAttendance).where(SessionAttendance.trajectory_id == trajectory.id)
    )
    for row in rows:
        planned = planned_on(trajectory, row.held_on)
        row.week_number = planned.week_number
        row.planned_run_min = planned.run_min
        row.planned_total_min = planned.total_min


def log_session(
    therapist: Therapist,
    *,
    actor: User,
    held_on: date | None,
    entries: list[AttendanceEntry],
    group: TrainingGroup | None = None,
) -> TrainingSession:
    """Log one session with a row per participant; raise ServiceError with every problem.

    `error.errors` maps (trajectory id or None, field name) to a message.
    """
    errors: dict[tuple[int | None, str], str] = {}
    if not entries:
        raise ServiceError(_("There is nobody to log a session for."))
    for entry in entries:
        if entry.trajectory.is_closed or entry.trajectory.plan is None:
            errors[(entry.trajectory.id, "attendance")] = _(
                "Sessions can only be logged for an open trajectory with an intake."
            )
        for name, message in _entry_errors(entry).items():
            errors[(entry.trajectory.id, name)] = message
    date_error = _date_errors(held_on, group, entries)
    if date_error:
        errors[(None, "held_on")] = date_error
    if errors:
        raise ServiceError.of(errors)
    session = TrainingSession(therapist=therapist, group=group, held_on=held_on, logged_by=actor)
    try:
        with db.session.begin_nested():
            db.session.add(session)
            db.session.flush()
    except sa.exc.IntegrityError:
        # Someone logged this group's session for the same day a moment ago.
        message = _("A session on this date has been logged already.")
        raise ServiceError.of({(None, "held_on"): message}) from None
    for entry in entries:
        _add_row(session, entry, actor)
    db.session.flush()
    return session


def _add_row(session: TrainingSession, entry: AttendanceEntry, actor: User) -> None:
    trajectory = entry.trajectory
    planned = planned_on(trajectory, session.held_on)
    if entry.attendance is Attendance.PRESENT:
        _start_if_first(trajectory, session.held_on, actor)
        planned = planned_on(trajectory, session.held_on)  # week 1 may just have begun
    session.attendances.append(
        SessionAttendance(
            trajectory=trajectory,
            held_on=session.held_on,
            attendance=entry.attendance,
            week_number=planned.week_number,
            planned_run_min=planned.run_min,
            planned_total_min=planned.total_min,
            done_run_min=entry.done_run_min,
            done_total_min=entry.done_total_min,
            borg=entry.borg,
            note=entry.note.strip() or None,
        )
    )
    audit.record(
        AuditAction.CREATE,
        actor=actor,
        obj=session,
        participant_id=trajectory.referral.participant_id,
        detail="session attendance logged",
    )


def _stored_values(row: SessionAttendance) -> tuple:
    return (row.attendance, row.done_run_min, row.done_total_min, row.borg, row.note)


def _correction_errors(
    rows: dict[int, SessionAttendance], entries: list[AttendanceEntry]
) -> dict[tuple[int | None, str], str]:
    errors: dict[tuple[int | None, str], str] = {}
    for entry in entries:
        if entry.trajectory.id not in rows or entry.trajectory.is_closed:
            errors[(entry.trajectory.id, "attendance")] = _(
                "Only the rows of open trajectories in this session can be corrected."
            )
        for name, message in _entry_errors(entry).items():
            errors[(entry.trajectory.id, name)] = message
    return errors


def correct_session(
    session: TrainingSession, *, actor: User, entries: list[AttendanceEntry]
) -> TrainingSession:
    """Correct the rows of a logged session; its day stays. Raise ServiceError with every problem.

    Only the given rows change, all of them or none; `error.errors` maps (trajectory id, field
    name) to a message, as for log_session.
    """
    rows = {row.trajectory_id: row for row in session.attendances}
    errors = _correction_errors(rows, entries)
    if errors:
        raise ServiceError.of(errors)
    for entry in entries:
        _correct_row(rows[entry.trajectory.id], entry, actor)
    db.session.flush()
    return session


def _correct_row(row: SessionAttendance, entry: AttendanceEntry, actor: User) -> None:
    note = entry.note.strip() or None
    values = (entry.attendance, entry.done_run_min, entry.done_total_min, entry.borg, note)
    if values == _stored_values(row):
        return
    trajectory = entry.trajectory
    # Someone corrected to absent keeps their start: the referral stays active and
    # first_session_on stays, since other sessions or letters may already rest on them.
    if entry.attendance is Attendance.PRESENT:
        started_on = trajectory.first_session_on
        _start_if_first(trajectory, row.held_on, actor)
        if trajectory.first_session_on != started_on:  # this day is now week 1
            planned = planned_on(trajectory, row.held_on)
            row.week_number = planned.week_number
            row.planned_run_min, row.planned_total_min = planned.run_min, planned.total_min
    row.attendance, row.done_run_min, row.done_total_min, row.borg, row.note = values
    audit.record(
        AuditAction.UPDATE,
        actor=actor,
        obj=row.session,
        participant_id=trajectory.referral.participant_id,
        detail="session attendance corrected",
    )
