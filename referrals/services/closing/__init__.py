"""Closing a trajectory (issue 5); the letter itself is made in services.closing_letter, the
rules and the check page before confirming are in services.closing.check (issue 12).

Closing is one transaction: the referral's transition, the trajectory's outcome, one place of
the therapist's capacity given back, with consent the letter stored as an immutable Report, and
the referrer's notification in the outbox. The letter is built from counts and scores only:
session notes are for the therapist and never read here.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _

from referrals import audit
from referrals.extensions import db
from referrals.labels import DROPOUT_REASON_LABELS, OUTCOME_LABELS, REGULAR_SPORT_LABELS
from referrals.models import (
    AuditAction,
    DropoutReason,
    NotificationKind,
    Outcome,
    QuestionnaireResponse,
    RegularSport,
    Report,
    ReportKind,
    Therapist,
    Trajectory,
    User,
    utcnow,
)
from referrals.services import ServiceError
from referrals.services.closing.check import checked_choice, completed_minimum, present_days
from referrals.services.closing.closing_letter import (
    Attended,
    attendance_counts,
    store_closing_letter,
)
from referrals.services.notifications import enqueue
from referrals.services.notifications.texts import notification_text
from referrals.services.states import apply_transition

# Reading: what the pages and the letter show.


def questionnaires_done(trajectory: Trajectory) -> int:
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(QuestionnaireResponse)
        .where(QuestionnaireResponse.trajectory_id == trajectory.id)
    )


def closing_letter(trajectory: Trajectory) -> Report | None:
    """The stored closing letter of `trajectory`, the newest if ever more than one."""
    return db.session.scalars(
        sa.select(Report)
        .where(Report.trajectory_id == trajectory.id, Report.kind == ReportKind.CLOSING_LETTER)
        .order_by(Report.id.desc())
        .limit(1)
    ).first()


class OutcomeText:
    """Labels of how a closed trajectory ended, for pages and the letter."""

    trajectory: Trajectory

    @property
    def outcome_label(self):
        outcome = self.trajectory.outcome
        return OUTCOME_LABELS[outcome] if outcome else None

    @property
    def detail_label(self):
        """The dropout reason, or where the participant goes on running."""
        if self.trajectory.dropout_reason:
            return DROPOUT_REASON_LABELS[self.trajectory.dropout_reason]
        if self.trajectory.regular_sport:
            return REGULAR_SPORT_LABELS[self.trajectory.regular_sport]
        return None


@dataclass(frozen=True)
class ClosingSummary(OutcomeText):
    trajectory: Trajectory
    consent: bool
    attended: Attended
    letter: Report | None

    @property
    def is_closed(self) -> bool:
        return self.trajectory.is_closed

    @property
    def present_days(self) -> int:
        """Days with an attended session (read when asked: only the closing form shows it)."""
        return present_days(self.trajectory)

    @property
    def completed_minimum(self) -> int:
        """Such days needed to close as completed."""
        return completed_minimum(self.trajectory.referral.programme)


def closing_summary(trajectory: Trajectory) -> ClosingSummary:
    """What the therapist sees about closing on the trajectory page and the closing form."""
    return ClosingSummary(
        trajectory=trajectory,
        consent=trajectory.referral.consent_share_progress,
        attended=attendance_counts(trajectory),
        letter=closing_letter(trajectory) if trajectory.is_closed else None,
    )


def trajectory_of(referral) -> Trajectory | None:
    return db.session.scalars(
        sa.select(Trajectory).where(Trajectory.referral_id == referral.id)
    ).first()


@dataclass(frozen=True)
class ReferrerView(OutcomeText):
    """What a referrer sees of a trajectory: with consent progress and the outcome, else none."""

    trajectory: Trajectory
    attended: Attended
    questionnaires: int
    letter: Report | None


def referrer_view(referral) -> ReferrerView | None:
    """None without consent to share progress (the referral's state says enough then)."""
    if not referral.consent_share_progress:
        return None
    trajectory = trajectory_of(referral)
    if trajectory is None:
        return None
    return ReferrerView(
        trajectory=trajectory,
        attended=attendance_counts(trajectory),
        questionnaires=questionnaires_done(trajectory),
        letter=closing_letter(trajectory) if trajectory.is_closed else None,
    )


# Closing.


def close_trajectory(
    trajectory: Trajectory,
    *,
    actor: User,
    outcome: Outcome | str | None,
    dropout_reason: DropoutReason | str | None = None,
    regular_sport: RegularSport | str | None = None,
    advice: str = "",
) -> Trajectory:
    """Close the trajectory; the referral, the capacity, the letter and the referrer follow.

    Raises ServiceError (with `errors` per field) when the closing is not allowed: the same
    rules as the check page's (services.closing.check), checked again on confirming.
    """
    if trajectory.is_closed:
        raise ServiceError(_("This trajectory has been closed already."))
    choice = checked_choice(
        trajectory,
        outcome=outcome,
        dropout_reason=dropout_reason,
        regular_sport=regular_sport,
        advice=advice,
    )
    outcome = choice.outcome
    now = utcnow()
    referral = trajectory.referral
    dropped = outcome is Outcome.DROPPED_OUT
    # No event reason: the outcome lives on the trajectory, where consent governs who sees it.
    apply_transition(referral, "drop_out" if dropped else "complete", actor, closed_at=now)
    trajectory.closed_at = now
    trajectory.outcome = outcome
    trajectory.dropout_reason = choice.dropout_reason
    trajectory.regular_sport = choice.regular_sport
    trajectory.closing_note = choice.advice or None
    trajectory.group_id = None
    db.session.flush()
    release_place(trajectory.therapist)
    audit.record(
        AuditAction.UPDATE,
        actor=actor,
        obj=trajectory,
        participant_id=referral.participant_id,
        detail=f"closed: {outcome.value}",
    )
    if referral.consent_share_progress:
        store_closing_letter(trajectory, actor=actor)
    if referral.referrer is not None and referral.referrer.is_active:
        subject, body = notification_text(NotificationKind.TRAJECTORY_CLOSED, referral)
        enqueue(NotificationKind.TRAJECTORY_CLOSED, referral.referrer, subject, body)
    return trajectory


def release_place(therapist: Therapist) -> None:
    """Give back one place of the therapist's capacity, never below 0, in the database."""
    db.session.execute(
        sa.update(Therapist)
        .where(Therapist.id == therapist.id, Therapist.active_participants > 0)
        .values(active_participants=Therapist.active_participants - 1)
        .execution_options(synchronize_session=False)
    )
    db.session.refresh(therapist)


# The letter.
