"""Trajectories: what happens after a therapist accepts a referral."""

from __future__ import annotations

import enum
from datetime import date, datetime, time

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, object_session, relationship, validates

from referrals.models.accounts import User
from referrals.models.base import Base, TimestampMixin, UTCDateTime, enum_column_type
from referrals.models.intake import Referral, Weekday
from referrals.models.therapists import Therapist

GROUP_MIN_SIZE, GROUP_MAX_SIZE = 3, 8
BORG_MIN, BORG_MAX = 6, 20


class Outcome(enum.StrEnum):
    """How a trajectory ended."""

    COMPLETED = "completed"
    DROPPED_OUT = "dropped_out"
    REGULAR_SPORT = "regular_sport"


class DropoutReason(enum.StrEnum):
    MOTIVATION = "motivation"
    INJURY_OR_ILLNESS = "injury_or_illness"
    MOVED = "moved"
    OTHER_HELP = "other_help"
    UNREACHABLE = "unreachable"
    OTHER = "other"


class RegularSport(enum.StrEnum):
    """Where a participant went on to run after the trajectory."""

    RUNNING_CLUB = "running_club"
    START_TO_RUN = "start_to_run"
    OTHER = "other"


class Attendance(enum.StrEnum):
    PRESENT = "present"
    EXCUSED = "excused"  # absent with notice
    ABSENT = "absent"  # absent without notice


class Moment(enum.StrEnum):
    """When an outcome questionnaire is taken: during the trajectory, or at the follow-up a set
    time after closing (Programme.follow_up_months; the value fits the column's 6 letters)."""

    INTAKE = "intake"
    MIDWAY = "midway"
    END = "end"
    FOLLOW_UP = "follow"


# Where a participant runs at the follow-up: one of RegularSport's places, or nowhere.
NO_SPORT = "none"


def _programme_of(parent) -> int:
    """The parent row's programme, read without flushing the half-built child."""
    session = object_session(parent)
    if session is None:
        return parent.programme_id
    with session.no_autoflush:
        return parent.programme_id


class TrainingGroup(TimestampMixin, Base):
    """A therapist's walk/run group: a fixed weekly time and place, 3 to 8 participants."""

    __tablename__ = "training_groups"
    __table_args__ = (
        sa.CheckConstraint(
            f"max_size BETWEEN {GROUP_MIN_SIZE} AND {GROUP_MAX_SIZE}", name="size_range"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    therapist_id: Mapped[int] = mapped_column(sa.ForeignKey("therapists.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(100))
    weekday: Mapped[Weekday] = mapped_column(enum_column_type(Weekday, "group_weekday"))
    starts_at: Mapped[time]
    meeting_place: Mapped[str] = mapped_column(sa.String(200))
    max_size: Mapped[int] = mapped_column(default=GROUP_MAX_SIZE)
    active: Mapped[bool] = mapped_column(default=True, server_default=sa.true())

    therapist: Mapped[Therapist] = relationship()
    members: Mapped[list[Trajectory]] = relationship(
        back_populates="group", order_by="Trajectory.id"
    )


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
        sa.CheckConstraint(
            "(closed_at IS NULL AND outcome IS NULL)"
            " OR (closed_at IS NOT NULL AND outcome IS NOT NULL)",
            name="closed_has_outcome",
        ),
        sa.CheckConstraint(
            "outcome <> 'dropped_out' OR dropout_reason IS NOT NULL", name="dropout_has_reason"
        ),
        # The referral's programme, copied (a referral never changes programme) so that
        # programme figures read the programme's trajectories from an index; the database
        # holds the copy equal to the referral's.
        sa.ForeignKeyConstraint(
            ["referral_id", "programme_id"],
            ["referrals.id", "referrals.programme_id"],
            name="fk_trajectories_referral_programme",
        ),
        sa.UniqueConstraint("id", "programme_id", name="uq_trajectories_id_programme_id"),
        sa.Index("ix_trajectories_programme_id_started_at", "programme_id", "started_at"),
        # A therapist's trajectories, and their closed ones a page at a time, newest first.
        sa.Index("ix_trajectories_therapist_id_closed_at", "therapist_id", "closed_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    referral_id: Mapped[int] = mapped_column(sa.ForeignKey("referrals.id"), unique=True)
    programme_id: Mapped[int]  # held equal to its parent row's by the composite key above
    therapist_id: Mapped[int] = mapped_column(sa.ForeignKey("therapists.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    intake_on: Mapped[date | None]
    can_walk_min: Mapped[int | None]
    can_run_min: Mapped[int | None]
    intake_remarks: Mapped[str | None] = mapped_column(sa.Text)
    plan: Mapped[dict | None] = mapped_column(sa.JSON)
    # In a group, or individual when None.
    group_id: Mapped[int | None] = mapped_column(sa.ForeignKey("training_groups.id"), index=True)
    first_session_on: Mapped[date | None]
    # Closing: outcome and when; a dropout has a reason, a move to regular sport says where.
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[Outcome | None] = mapped_column(enum_column_type(Outcome, "outcome"))
    dropout_reason: Mapped[DropoutReason | None] = mapped_column(
        enum_column_type(DropoutReason, "dropout_reason")
    )
    regular_sport: Mapped[RegularSport | None] = mapped_column(
        enum_column_type(RegularSport, "regular_sport")
    )
    closing_note: Mapped[str | None] = mapped_column(sa.Text)
    # At the follow-up: a RegularSport value or NO_SPORT, None while not asked.
    sport_at_follow_up: Mapped[str | None] = mapped_column(sa.String(12))

    referral: Mapped[Referral] = relationship(foreign_keys=[referral_id])
    therapist: Mapped[Therapist] = relationship()
    group: Mapped[TrainingGroup | None] = relationship(back_populates="members")

    @validates("referral")
    def _copy_programme(self, key, referral: Referral) -> Referral:
        self.programme_id = _programme_of(referral)
        return referral

    @property
    def is_closed(self) -> bool:
        return self.closed_at is not None


class TrainingSession(TimestampMixin, Base):
    """One supervised session on one day: for a whole group, or for one participant.

    A group session is logged once; each participant has an attendance row.
    """

    __tablename__ = "training_sessions"
    # One session per group per day (individual sessions have no group: NULLs do not clash).
    __table_args__ = (sa.UniqueConstraint("group_id", "held_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    therapist_id: Mapped[int] = mapped_column(sa.ForeignKey("therapists.id"), index=True)
    group_id: Mapped[int | None] = mapped_column(sa.ForeignKey("training_groups.id"), index=True)
    held_on: Mapped[date]
    logged_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))

    therapist: Mapped[Therapist] = relationship()
    group: Mapped[TrainingGroup | None] = relationship()
    logged_by: Mapped[User] = relationship()
    attendances: Mapped[list[SessionAttendance]] = relationship(
        back_populates="session", order_by="SessionAttendance.id"
    )


class SessionAttendance(Base):
    """One participant at one session: attendance, planned and done minutes, Borg, a note.

    The note is for the therapist only: it never reaches a referrer, a letter or a report.
    """

    __tablename__ = "session_attendances"
    __table_args__ = (
        sa.UniqueConstraint("session_id", "trajectory_id"),
        sa.CheckConstraint(
            f"borg IS NULL OR borg BETWEEN {BORG_MIN} AND {BORG_MAX}", name="borg_range"
        ),
        sa.CheckConstraint(
            "attendance = 'present' OR (done_run_min IS NULL AND done_total_min IS NULL"
            " AND borg IS NULL)",
            name="absent_did_nothing",
        ),
        sa.CheckConstraint(
            "done_run_min IS NULL OR done_total_min IS NULL OR done_run_min <= done_total_min",
            name="run_within_total",
        ),
        # The trajectory's programme, copied like held_on, and held equal by the database.
        sa.ForeignKeyConstraint(
            ["trajectory_id", "programme_id"],
            ["trajectories.id", "trajectories.programme_id"],
            name="fk_session_attendances_trajectory_programme",
        ),
        sa.Index(
            "ix_session_attendances_programme_id_held_on",
            "programme_id",
            "held_on",
            "attendance",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("training_sessions.id"))
    trajectory_id: Mapped[int] = mapped_column(sa.ForeignKey("trajectories.id"), index=True)
    programme_id: Mapped[int]  # held equal to its parent row's by the composite key above
    # The session's day, copied here (moving a session moves its rows too) so that programme
    # figures count a period's attendance without joining every session in the country.
    held_on: Mapped[date]
    attendance: Mapped[Attendance] = mapped_column(enum_column_type(Attendance, "attendance"))
    week_number: Mapped[int | None]
    planned_run_min: Mapped[int | None]
    planned_total_min: Mapped[int | None]
    done_run_min: Mapped[int | None]
    done_total_min: Mapped[int | None]
    borg: Mapped[int | None]
    note: Mapped[str | None] = mapped_column(sa.Text)

    session: Mapped[TrainingSession] = relationship(back_populates="attendances")
    trajectory: Mapped[Trajectory] = relationship(foreign_keys=[trajectory_id])

    @validates("trajectory")
    def _copy_programme(self, key, trajectory: Trajectory) -> Trajectory:
        self.programme_id = _programme_of(trajectory)
        return trajectory


class QuestionnaireResponse(TimestampMixin, Base):
    """One instrument taken at one moment: the item answers as given and the score."""

    __tablename__ = "questionnaire_responses"
    __table_args__ = (sa.UniqueConstraint("trajectory_id", "instrument", "moment"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    trajectory_id: Mapped[int] = mapped_column(sa.ForeignKey("trajectories.id"), index=True)
    instrument: Mapped[str] = mapped_column(sa.String(20))
    moment: Mapped[Moment] = mapped_column(enum_column_type(Moment, "moment"))
    taken_on: Mapped[date]
    # {"1": 3, "2": null, ...}: item number -> answer, None for a missing item.
    answers: Mapped[dict] = mapped_column(sa.JSON)
    score: Mapped[float | None]
    subscores: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    category: Mapped[str | None] = mapped_column(sa.String(40))
    missing_items: Mapped[int] = mapped_column(default=0)
    recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))

    trajectory: Mapped[Trajectory] = relationship()
    recorded_by: Mapped[User] = relationship()
