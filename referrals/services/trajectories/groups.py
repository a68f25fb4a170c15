"""Training groups: a therapist's weekly walk/run groups of 3 to 8 participants."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.attributes import set_committed_value

from referrals import audit
from referrals.extensions import db
from referrals.models import (
    GROUP_MAX_SIZE,
    GROUP_MIN_SIZE,
    Attendance,
    AuditAction,
    Referral,
    SessionAttendance,
    Therapist,
    TrainingGroup,
    TrainingSession,
    Trajectory,
    User,
    Weekday,
)
from referrals.services import ServiceError


def _raise(errors: dict[str, str]) -> None:
    if errors:
        raise ServiceError.of(errors)


def _check_group(
    group: TrainingGroup | None, *, name: str, meeting_place: str, max_size: int
) -> None:
    errors = {}
    if not name.strip():
        errors["name"] = _("Enter the name of the group.")
    if not meeting_place.strip():
        errors["meeting_place"] = _("Enter where the group meets.")
    if not GROUP_MIN_SIZE <= max_size <= GROUP_MAX_SIZE:
        errors["max_size"] = _(
            "A group has %(min)d to %(max)d places.", min=GROUP_MIN_SIZE, max=GROUP_MAX_SIZE
        )
    elif group is not None and max_size < len(group.members):
        errors["max_size"] = _(
            "The group has %(count)d members; remove members before lowering the size.",
            count=len(group.members),
        )
    _raise(errors)


def create_group(
    therapist: Therapist,
    *,
    actor: User,
    name: str,
    weekday: Weekday,
    starts_at: time,
    meeting_place: str,
    max_size: int,
) -> TrainingGroup:
    """A new, empty group of the therapist."""
    _check_group(None, name=name, meeting_place=meeting_place, max_size=max_size)
    group = TrainingGroup(
        therapist=therapist,
        name=name.strip(),
        weekday=weekday,
        starts_at=starts_at,
        meeting_place=meeting_place.strip(),
        max_size=max_size,
    )
    db.session.add(group)
    db.session.flush()
    audit.record(AuditAction.CREATE, actor=actor, obj=group, detail="training group")
    return group


def update_group(
    group: TrainingGroup,
    *,
    actor: User,
    name: str,
    weekday: Weekday,
    starts_at: time,
    meeting_place: str,
    max_size: int,
) -> TrainingGroup:
    """Change a group's name, time, place or size (never below its member count)."""
    _check_group(group, name=name, meeting_place=meeting_place, max_size=max_size)
    group.name, group.weekday, group.starts_at = name.strip(), weekday, starts_at
    group.meeting_place, group.max_size = meeting_place.strip(), max_size
    db.session.flush()
    audit.record(AuditAction.UPDATE, actor=actor, obj=group, detail="training group")
    return group


def groups_of(therapist: Therapist) -> list[tuple[TrainingGroup, int]]:
    """The therapist's groups with their member counts, in one query."""
    count = (
        sa.select(sa.func.count(Trajectory.id))
        .where(Trajectory.group_id == TrainingGroup.id)
        .scalar_subquery()
    )
    rows = db.session.execute(
        sa.select(TrainingGroup, count)
        .where(TrainingGroup.therapist_id == therapist.id)
        .order_by(TrainingGroup.weekday, TrainingGroup.starts_at, TrainingGroup.id)
    )
    return [(group, members) for group, members in rows]


@dataclass(frozen=True)
class GroupSessionLine:
    """One logged session on the group page: no participant is named."""

    session_id: int
    held_on: date
    present: int
    logged: int  # attendance rows


SESSIONS_SHOWN = 26  # half a year of weekly sessions


def members_of(group: TrainingGroup) -> list[Trajectory]:
    """The group's members with their referral and participant, in one query (not one per
    member), set as `group.members` for the page."""
    members = list(
        db.session.scalars(
            sa.select(Trajectory)
            .where(Trajectory.group_id == group.id)
            .options(joinedload(Trajectory.referral).joinedload(Referral.participant))
            .order_by(Trajectory.id)
        )
    )
    set_committed_value(group, "members", members)
    return members


def session_count(group: TrainingGroup) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(TrainingSession)
        .where(TrainingSession.group_id == group.id)
    )


def sessions_of(group: TrainingGroup, limit: int = SESSIONS_SHOWN) -> list[GroupSessionLine]:
    """The group's latest `limit` logged sessions with their attendance counts, newest first,
    in one query (older ones are on each member's trajectory page). The latest sessions are
    found first (the group's (group_id, held_on) index) and only their attendance is counted,
    so a group that has met for years costs what a new one does."""
    latest = (
        sa.select(TrainingSession.id, TrainingSession.held_on)
        .where(TrainingSession.group_id == group.id)
        .order_by(TrainingSession.held_on.desc(), TrainingSession.id.desc())
        .limit(limit)
        .subquery()
    )
    present = sa.func.sum(sa.case((SessionAttendance.attendance == Attendance.PRESENT, 1), else_=0))
    rows = db.session.execute(
        sa.select(
            latest.c.id,
            latest.c.held_on,
            sa.func.coalesce(present, 0),
            sa.func.count(SessionAttendance.id),
        )
        .outerjoin(SessionAttendance, SessionAttendance.session_id == latest.c.id)
        .group_by(latest.c.id, latest.c.held_on)
        .order_by(latest.c.held_on.desc(), latest.c.id.desc())
    )
    return [GroupSessionLine(*row) for row in rows]


def candidates_for(therapist_id: int) -> list[Trajectory]:
    """Open trajectories of the therapist with a recorded intake, in no group yet."""
    return list(
        db.session.scalars(
            sa.select(Trajectory)
            .where(
                Trajectory.therapist_id == therapist_id,
                Trajectory.group_id.is_(None),
                Trajectory.closed_at.is_(None),
                Trajectory.plan.is_not(None),
            )
            .options(joinedload(Trajectory.referral).joinedload(Referral.participant))
            .order_by(Trajectory.id)
        )
    )


def add_member(group: TrainingGroup, trajectory: Trajectory, *, actor: User) -> Trajectory:
    """Put a participant in the group, within its size."""
    if trajectory.therapist_id != group.therapist_id:
        raise ServiceError(_("Choose one of your own participants."), "trajectory")
    if trajectory.is_closed:
        raise ServiceError(_("This trajectory is closed."), "trajectory")
    if trajectory.plan is None:
        raise ServiceError(_("Record the intake before adding the participant."), "trajectory")
    if trajectory.group_id is not None:
        raise ServiceError(_("This participant is in a group already."), "trajectory")
    if len(group.members) >= group.max_size:
        raise ServiceError(_("The group is full."))
    trajectory.group = group
    db.session.flush()
    audit.record(
        AuditAction.UPDATE,
        actor=actor,
        obj=trajectory,
        participant_id=trajectory.referral.participant_id,
        detail="added to training group",
    )
    return trajectory


def remove_member(group: TrainingGroup, trajectory: Trajectory, *, actor: User) -> Trajectory:
    """Take a participant out of the group; their sessions stay."""
    if trajectory.group_id != group.id:
        raise ServiceError(_("This participant is not in the group."))
    trajectory.group = None
    db.session.flush()
    audit.record(
        AuditAction.UPDATE,
        actor=actor,
        obj=trajectory,
        participant_id=trajectory.referral.participant_id,
        detail="removed from training group",
    )
    return trajectory
