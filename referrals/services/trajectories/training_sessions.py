"""Logging supervised sessions: attendance, planned and done minutes, Borg, a therapist's note.

A group session is logged once with a row per member; an individual session has one row. The
first session at which a participant is present starts the trajectory: the referral becomes
active. Everything of one log happens in the caller's transaction, or not at all.

Minutes and Borg belong to someone who was there: for a participant absent (with or without
notice) they are not checked and not stored, whatever the form sent. A second session of the
same group (or with the same participant) on the same day is refused; one within
NEAR_SESSION_DAYS of another needs the therapist's confirmation, since it is most often the same
session logged twice. Correcting, moving and deleting a logged session: session_corrections.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import sqlalchemy as sa
from flask_babel import format_date
from flask_babel import gettext as _

from referrals import audit
from referrals.extensions import db
from referrals.labels import N_
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
# Groups meet once a week: two sessions of one group (or with one participant) fewer than this
# many days apart are more often one session logged twice than a real extra session.
NEAR_SESSION_DAYS = 3


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

    def stored_numbers(self) -> tuple[int | None, int | None, int | None]:
        """Running and total minutes and Borg as stored: none of them for someone away."""
        if self.attendance is not Attendance.PRESENT:
            return None, None, None
        return self.done_run_min, self.done_total_min, self.borg


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


def entry_errors(entry: AttendanceEntry) -> dict[str, str]:
    """Messages per field of one participant's row; minutes and Borg of someone away are not
    checked, since they are ignored."""
    errors = {}
    numbers = (entry.done_run_min, entry.done_total_min)
    if entry.attendance is None:
        return {"attendance": _("Choose whether the participant was there.")}
    if entry.attendance is not Attendance.PRESENT:
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


def same_series(group: TrainingGroup | None, trajectory: Trajectory) -> sa.Select:
    """The days of the sessions a new one could clash with: the group's, or for an individual
    session the participant's other individual sessions."""
    query = sa.select(TrainingSession.held_on)
    if group is not None:
        return query.where(TrainingSession.group_id == group.id)
    return (
        query.join(SessionAttendance)
        .where(TrainingSession.group_id.is_(None))
        .where(SessionAttendance.trajectory_id == trajectory.id)
    )


def taken_on_day(held_on: date, group: TrainingGroup | None, trajectory: Trajectory) -> bool:
    """Whether the group (or the participant's individual sessions) has a session that day."""
    query = same_series(group, trajectory).where(TrainingSession.held_on == held_on)
    return db.session.scalar(query.limit(1)) is not None


def nearby_days(
    held_on: date, group: TrainingGroup | None, trajectory: Trajectory, *, besides: int | None
) -> list[date]:
    """Days of the same series within NEAR_SESSION_DAYS of `held_on` (callers refuse that day
    itself first)."""
    window = timedelta(days=NEAR_SESSION_DAYS)
    query = same_series(group, trajectory).where(
        TrainingSession.held_on.between(held_on - window, held_on + window)
    )
    if besides is not None:
        query = query.where(TrainingSession.id != besides)
    return sorted(set(db.session.scalars(query)))


def nearby_warning(days: list[date], group: TrainingGroup | None) -> str:
    """Why a session close to another needs confirming."""
    dates = ", ".join(format_date(day, "long") for day in days)
    if group is not None:
        return _(
            "This group has a session on %(dates)s, close to this date. Check that this is not"
            " the same session logged twice; if it is another session, tick the box to confirm.",
            dates=dates,
        )
    return _(
        "This participant has an individual session on %(dates)s, close to this date. Check"
        " that this is not the same session logged twice; if it is another session, tick the"
        " box to confirm.",
        dates=dates,
    )


SAME_DAY = N_("A session on this date has been logged already.")


def _date_errors(
    held_on: date | None,
    group: TrainingGroup | None,
    entries: list[AttendanceEntry],
    confirmed_near: bool,
) -> dict[tuple[None, str], str]:
    if held_on is None:
        return {(None, "held_on"): _("Enter the date of the session.")}
    if held_on > local_today():
        return {(None, "held_on"): _("The session date lies in the future.")}
    if any(e.trajectory.intake_on and held_on < e.trajectory.intake_on for e in entries):
        return {(None, "held_on"): _("The session date lies before the intake.")}
    trajectory = entries[0].trajectory
    if taken_on_day(held_on, group, trajectory):
        return {(None, "held_on"): _(SAME_DAY)}
    days = nearby_days(held_on, group, trajectory, besides=None)
    if days and not confirmed_near:
        return {(None, "confirm_near"): nearby_warning(days, group)}
    return {}


def start_if_first(trajectory: Trajectory, held_on: date, actor: User) -> None:
    if trajectory.first_session_on is not None and trajectory.first_session_on <= held_on:
        return
    moved_back = trajectory.first_session_on is not None
    trajectory.first_session_on = held_on
    if moved_back:
        renumber_weeks(trajectory)
    if trajectory.referral.state is ReferralState.ACCEPTED:
        apply_transition(trajectory.referral, "start", actor)


def renumber_weeks(trajectory: Trajectory) -> None:
    """Week 1 moved (a session before the first one was logged late, or the first one was moved
    or deleted): the rows stored get the week and planned minutes that now apply to their day."""
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
    confirmed_near: bool = False,
) -> TrainingSession:
    """Log one session with a row per participant; raise ServiceError with every problem.

    `error.errors` maps (trajectory id or None, field name) to a message. A session within
    NEAR_SESSION_DAYS of another of the same group (or participant) is refused under
    (None, "confirm_near") unless `confirmed_near`. Minutes and Borg of those away are ignored.
    """
    errors: dict[tuple[int | None, str], str] = {}
    if not entries:
        raise ServiceError(_("There is nobody to log a session for."))
    for entry in entries:
        if entry.trajectory.is_closed or entry.trajectory.plan is None:
            errors[(entry.trajectory.id, "attendance")] = _(
                "Sessions can only be logged for an open trajectory with an intake."
            )
        for name, message in entry_errors(entry).items():
            errors[(entry.trajectory.id, name)] = message
    errors.update(_date_errors(held_on, group, entries, confirmed_near))
    if errors:
        raise ServiceError.of(errors)
    session = TrainingSession(therapist=therapist, group=group, held_on=held_on, logged_by=actor)
    try:
        with db.session.begin_nested():
            db.session.add(session)
            db.session.flush()
    except sa.exc.IntegrityError:
        # Someone logged this group's session for the same day a moment ago.
        raise ServiceError.of({(None, "held_on"): _(SAME_DAY)}) from None
    for entry in entries:
        _add_row(session, entry, actor)
    db.session.flush()
    return session


def _add_row(session: TrainingSession, entry: AttendanceEntry, actor: User) -> None:
    trajectory = entry.trajectory
    planned = planned_on(trajectory, session.held_on)
    if entry.attendance is Attendance.PRESENT:
        start_if_first(trajectory, session.held_on, actor)
        planned = planned_on(trajectory, session.held_on)  # week 1 may just have begun
    done_run_min, done_total_min, borg = entry.stored_numbers()
    session.attendances.append(
        SessionAttendance(
            trajectory=trajectory,
            held_on=session.held_on,
            attendance=entry.attendance,
            week_number=planned.week_number,
            planned_run_min=planned.run_min,
            planned_total_min=planned.total_min,
            done_run_min=done_run_min,
            done_total_min=done_total_min,
            borg=borg,
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
