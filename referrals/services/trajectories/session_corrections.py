"""Changing a logged session: correcting its rows, moving it to another day, deleting it.

A session with a row of a closed trajectory is part of that trajectory's record (and of its
closing letter): its rows of the closed trajectory stay as they are, and it is neither moved nor
deleted. Moving or deleting a session changes which day is a participant's first session, so
`first_session_on` and the week numbers of their rows follow from the rows that remain; the
referral stays active, since a state is never taken back. Progress, attendance and programme
figures are computed from the rows, so they follow by themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import format_date
from flask_babel import gettext as _

from referrals import audit
from referrals.extensions import db
from referrals.models import (
    Attendance,
    AuditAction,
    SessionAttendance,
    TrainingSession,
    Trajectory,
    User,
    local_today,
)
from referrals.services import ServiceError
from referrals.services.trajectories.training_sessions import (
    SAME_DAY,
    AttendanceEntry,
    entry_errors,
    nearby_days,
    nearby_warning,
    planned_on,
    renumber_weeks,
    start_if_first,
    taken_on_day,
)


def closed_rows(session: TrainingSession) -> list[SessionAttendance]:
    """The session's rows of closed trajectories: they, and the session's day, stay."""
    return [row for row in session.attendances if row.trajectory.is_closed]


def _closed_refusal(session: TrainingSession, doing: str) -> str | None:
    closed = closed_rows(session)
    if not closed:
        return None
    names = ", ".join(row.trajectory.referral.participant.full_name for row in closed)
    if doing == "move":
        return _(
            "The date cannot change: this session belongs to the closed trajectory of %(names)s.",
            names=names,
        )
    return _(
        "This session cannot be deleted: it belongs to the closed trajectory of %(names)s.",
        names=names,
    )


# --- correcting rows, and moving -------------------------------------------------------------


def _correction_errors(
    rows: dict[int, SessionAttendance], entries: list[AttendanceEntry]
) -> dict[tuple[int | None, str], str]:
    errors: dict[tuple[int | None, str], str] = {}
    for entry in entries:
        if entry.trajectory.id not in rows or entry.trajectory.is_closed:
            errors[(entry.trajectory.id, "attendance")] = _(
                "Only the rows of open trajectories in this session can be corrected."
            )
        for name, message in entry_errors(entry).items():
            errors[(entry.trajectory.id, name)] = message
    return errors


def _programme_period_error(session: TrainingSession, held_on: date) -> str | None:
    for row in session.attendances:
        programme = row.trajectory.referral.programme
        if held_on < programme.starts_on:
            return _(
                "The date lies before the programme began (%(date)s).",
                date=format_date(programme.starts_on, "long"),
            )
        if programme.ends_on is not None and held_on > programme.ends_on:
            return _(
                "The date lies after the programme ended (%(date)s).",
                date=format_date(programme.ends_on, "long"),
            )
    return None


def _new_date_error(session: TrainingSession, held_on: date) -> str | None:
    """Why the session cannot move to `held_on`: the first rule it breaks, if any."""
    if refusal := _closed_refusal(session, "move"):
        return refusal
    trajectories = [row.trajectory for row in session.attendances]
    if held_on > local_today():
        return _("The session date lies in the future.")
    if any(t.intake_on and held_on < t.intake_on for t in trajectories):
        return _("The session date lies before the intake.")
    if period := _programme_period_error(session, held_on):
        return period
    if trajectories and taken_on_day(held_on, session.group, trajectories[0]):
        return _(SAME_DAY)
    return None


def _move_errors(
    session: TrainingSession, held_on: date, confirmed: bool
) -> dict[tuple[None, str], str]:
    """What stands in the way of moving the session to `held_on`: the date's own rules first
    (under held_on), then the confirmation that says what moving means (confirm_date)."""
    if date_error := _new_date_error(session, held_on):
        return {(None, "held_on"): date_error}
    if confirmed:
        return {}
    question = _(
        "You are moving this session from %(old)s to %(new)s. Tick the box to confirm.",
        old=format_date(session.held_on, "long"),
        new=format_date(held_on, "long"),
    )
    one = session.attendances[0].trajectory if session.attendances else None
    days = nearby_days(held_on, session.group, one, besides=session.id) if one else []
    if days:
        question = f"{question} {nearby_warning(days, session.group)}"
    return {(None, "confirm_date"): question}


def correct_session(
    session: TrainingSession,
    *,
    actor: User,
    entries: list[AttendanceEntry],
    held_on: date | None = None,
    confirmed: bool = False,
) -> TrainingSession:
    """Correct the rows of a logged session and, when `held_on` is another day, move it there.

    Only the given rows change, all of them or none; `error.errors` maps (trajectory id or
    None, field name) to a message, as for log_session, every problem at once. A move needs
    `confirmed` (else (None, "confirm_date") asks for it) and a date within the intake, the
    programme's period and today, on which the group (or participant) has no other session.
    """
    rows = {row.trajectory_id: row for row in session.attendances}
    errors = _correction_errors(rows, entries)
    moving = held_on is not None and held_on != session.held_on
    if moving:
        errors.update(_move_errors(session, held_on, confirmed))
    if errors:
        raise ServiceError.of(errors)
    if moving:
        _move(session, held_on, actor)
    for entry in entries:
        _correct_row(rows[entry.trajectory.id], entry, actor)
    db.session.flush()
    return session


def _move(session: TrainingSession, held_on: date, actor: User) -> None:
    moved_from = session.held_on
    session.held_on = held_on
    try:
        with db.session.begin_nested():
            db.session.flush()
    except sa.exc.IntegrityError:
        # Someone logged or moved a session of this group to that day a moment ago.
        raise ServiceError.of({(None, "held_on"): _(SAME_DAY)}) from None
    for row in session.attendances:
        row.held_on = held_on
    for row in session.attendances:
        trajectory = row.trajectory
        # Only an attended session can be (or become) the first one.
        present = row.attendance is Attendance.PRESENT
        if not (present and settle_start(trajectory)):
            planned = planned_on(trajectory, held_on)
            if planned is not None and planned.week_number != row.week_number:
                row.week_number = planned.week_number
                row.planned_run_min, row.planned_total_min = planned.run_min, planned.total_min
        audit.record(
            AuditAction.UPDATE,
            actor=actor,
            obj=session,
            participant_id=trajectory.referral.participant_id,
            detail="session date changed",
        )
    audit.record(
        AuditAction.UPDATE,
        actor=actor,
        obj=session,
        detail=f"session date changed from {moved_from.isoformat()} to {held_on.isoformat()}",
    )


def _stored_values(row: SessionAttendance) -> tuple:
    return (row.attendance, row.done_run_min, row.done_total_min, row.borg, row.note)


def _correct_row(row: SessionAttendance, entry: AttendanceEntry, actor: User) -> None:
    note = entry.note.strip() or None
    values = (entry.attendance, *entry.stored_numbers(), note)
    if values == _stored_values(row):
        return
    trajectory = entry.trajectory
    # Someone corrected to absent keeps their start: the referral stays active and
    # first_session_on stays, since other sessions or letters may already rest on them.
    if entry.attendance is Attendance.PRESENT:
        started_on = trajectory.first_session_on
        start_if_first(trajectory, row.held_on, actor)
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


def settle_start(trajectory: Trajectory) -> bool:
    """After a session the participant attended moved or went: the first session is the
    earliest one they attended (None when none is left), and the weeks are counted from it
    again. Whether the first session changed (then every row of the trajectory was renumbered)."""
    db.session.flush()
    earliest = db.session.scalar(
        sa.select(sa.func.min(SessionAttendance.held_on)).where(
            SessionAttendance.trajectory_id == trajectory.id,
            SessionAttendance.attendance == Attendance.PRESENT,
        )
    )
    if earliest == trajectory.first_session_on:
        return False
    trajectory.first_session_on = earliest
    renumber_weeks(trajectory)
    return True


# --- deleting ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeletedSession:
    """What is left to say about a deleted session: where to go back to, and what it was."""

    held_on: date
    group_id: int | None
    trajectory_ids: tuple[int, ...]


def delete_session(session: TrainingSession, *, actor: User) -> DeletedSession:
    """Delete a session logged by mistake with its attendance rows, and settle each
    participant's first session again. Refused for a session with a closed trajectory's row.

    The audit rows say what went: one for the session (its day, group and number of rows) and
    one per participant; no participant data in the detail.
    """
    if refusal := _closed_refusal(session, "delete"):
        raise ServiceError(refusal)
    rows = list(session.attendances)
    trajectories = [row.trajectory for row in rows]
    attended = [row.trajectory for row in rows if row.attendance is Attendance.PRESENT]
    gone = DeletedSession(session.held_on, session.group_id, tuple(t.id for t in trajectories))
    group = "none" if session.group_id is None else str(session.group_id)
    audit.record(
        AuditAction.DELETE,
        actor=actor,
        obj=session,
        detail=(
            f"session deleted: held on {session.held_on.isoformat()}, group {group},"
            f" {len(rows)} attendance rows"
        ),
    )
    for trajectory in trajectories:
        audit.record(
            AuditAction.DELETE,
            actor=actor,
            obj=session,
            participant_id=trajectory.referral.participant_id,
            detail="session attendance deleted",
        )
    for row in rows:
        db.session.delete(row)
    db.session.delete(session)
    db.session.flush()
    for trajectory in attended:
        settle_start(trajectory)
    db.session.flush()
    return gone
