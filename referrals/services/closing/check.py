"""The rules of a closing, and the check page the therapist sees before confirming (issue 12).

Closing is two steps. The first POST checks the choice: a choice that contradicts itself is
refused next to its field (`check_closing`); a sound one gets the check page, with the letter
as it will be sent and what is missing (`closing_check`). That step changes nothing: no state,
no letter, only the read row of the participant it shows. The second POST, with the same values
and `confirm`, closes (`close_trajectory`, which checks the same rules again).

The rules:
- a reason for dropping out belongs only to a dropout, and where the participant goes on
  running only to a move to regular sport;
- completed and regular sport need at least one attended session (the referral is active);
- completed needs attended sessions on at least a third of the programme's supervised sessions
  (`completed_minimum`: 4 of 12), counted as days, so a trajectory of one day is never
  "completed"; someone who stops before that has dropped out. Regular sport may come early:
  moving on is the aim;
- completed needs a summary and advice, the heart of its letter; "Other reason" and
  "Elsewhere" need it as the explanation.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import ceil

import sqlalchemy as sa
from flask_babel import gettext as _
from markupsafe import Markup

from referrals.extensions import db
from referrals.labels import DROPOUT_REASON_LABELS, OUTCOME_LABELS, REGULAR_SPORT_LABELS
from referrals.models import (
    Attendance,
    DropoutReason,
    Outcome,
    Programme,
    ReferralState,
    RegularSport,
    SessionAttendance,
    Trajectory,
    User,
    local_today,
)
from referrals.services import ServiceError
from referrals.services.closing.closing_letter import (
    ClosingChoice,
    closing_letter_html,
    letter_params,
)
from referrals.services.trajectories.pages import record_reads
from referrals.services.trajectories.questionnaires import get_instrument

MAX_ADVICE_LENGTH = 4000
# Completed: attended on at least this share of the programme's supervised sessions.
COMPLETED_SHARE_OF_SESSIONS = Fraction(1, 3)


def completed_minimum(programme: Programme) -> int:
    """Days with an attended session needed to close as completed: a third of the programme's
    supervised sessions, rounded up, and at least one."""
    return max(1, ceil(programme.supervised_sessions * COMPLETED_SHARE_OF_SESSIONS))


def present_days(trajectory: Trajectory) -> int:
    """Different days on which the participant attended a session."""
    return db.session.scalar(
        sa.select(sa.func.count(sa.distinct(SessionAttendance.held_on))).where(
            SessionAttendance.trajectory_id == trajectory.id,
            SessionAttendance.attendance == Attendance.PRESENT,
        )
    )


def _member(enum_type, value):
    """The enum member `value` names, or None (blank or unknown counts as not chosen)."""
    try:
        return enum_type(value) if value else None
    except ValueError:
        return None


def check_closing(
    trajectory: Trajectory,
    *,
    outcome: Outcome | None,
    dropout_reason: DropoutReason | None,
    regular_sport: RegularSport | None,
    advice: str,
) -> dict[str, str]:
    """Field errors of a closing, {} when it may go ahead. Reads, never writes."""
    errors = {}
    if outcome is None:
        errors["outcome"] = _("Choose how the trajectory ended.")
    if outcome is Outcome.DROPPED_OUT and dropout_reason is None:
        errors["dropout_reason"] = _("Choose why the participant dropped out.")
    elif outcome is not None and outcome is not Outcome.DROPPED_OUT and dropout_reason:
        errors["dropout_reason"] = _(
            "A reason for dropping out belongs only to a dropout. Choose 'Not applicable' here, "
            "or 'Dropped out' as how the trajectory ended."
        )
    if outcome is Outcome.REGULAR_SPORT and regular_sport is None:
        errors["regular_sport"] = _("Choose where the participant goes on running.")
    elif outcome is not None and outcome is not Outcome.REGULAR_SPORT and regular_sport:
        errors["regular_sport"] = _(
            "Where the participant goes on running belongs only to a move to regular sport. "
            "Choose 'Not applicable' here, or 'Moved on to regular sport' as how the trajectory "
            "ended."
        )
    if outcome in (Outcome.COMPLETED, Outcome.REGULAR_SPORT):
        days = present_days(trajectory)
        minimum = completed_minimum(trajectory.referral.programme)
        if trajectory.referral.state != ReferralState.ACTIVE or days == 0:
            errors["outcome"] = _(
                "The participant has not attended a session yet, so the trajectory cannot be "
                "completed. Close it as dropped out, or log the attended session first."
            )
        elif outcome is Outcome.COMPLETED and days < minimum:
            errors["outcome"] = _(
                "Closing as completed needs attended sessions on at least %(minimum)d different "
                "days (a third of the programme's %(sessions)d supervised sessions); so far "
                "there are %(days)d. Log the sessions that are missing, or close it as dropped "
                "out.",
                minimum=minimum,
                sessions=trajectory.referral.programme.supervised_sessions,
                days=days,
            )
    if outcome is Outcome.COMPLETED and not advice.strip():
        errors["advice"] = _(
            "Write your summary and advice for the referrer: it is the heart of the letter "
            "for a completed trajectory."
        )
    other = (outcome is Outcome.DROPPED_OUT and dropout_reason is DropoutReason.OTHER) or (
        outcome is Outcome.REGULAR_SPORT and regular_sport is RegularSport.OTHER
    )
    if other and not advice.strip():
        errors["advice"] = _("Explain here what you mean by 'Other reason' or 'Elsewhere'.")
    if len(advice) > MAX_ADVICE_LENGTH:
        errors["advice"] = _("Use at most %(max)d characters.", max=MAX_ADVICE_LENGTH)
    return errors


def checked_choice(
    trajectory: Trajectory,
    *,
    outcome: Outcome | str | None,
    dropout_reason: DropoutReason | str | None,
    regular_sport: RegularSport | str | None,
    advice: str,
) -> ClosingChoice:
    """The closing the values describe; ServiceError (per field) when the rules refuse it."""
    outcome = _member(Outcome, outcome)
    dropout_reason = _member(DropoutReason, dropout_reason)
    regular_sport = _member(RegularSport, regular_sport)
    advice = advice or ""
    if errors := check_closing(
        trajectory,
        outcome=outcome,
        dropout_reason=dropout_reason,
        regular_sport=regular_sport,
        advice=advice,
    ):
        raise ServiceError.of(errors)
    return ClosingChoice(outcome, dropout_reason, regular_sport, advice.strip())


@dataclass(frozen=True)
class ClosingCheck:
    """The check page: the choice in words, the letter as it will be sent, what is missing."""

    trajectory: Trajectory
    choice: ClosingChoice
    letter: Markup | None  # None without consent: no letter is made
    missing: list[str]

    @property
    def outcome_label(self):
        return OUTCOME_LABELS[self.choice.outcome]

    @property
    def dropout_reason_label(self):
        reason = self.choice.dropout_reason
        return DROPOUT_REASON_LABELS[reason] if reason else None

    @property
    def regular_sport_label(self):
        sport = self.choice.regular_sport
        return REGULAR_SPORT_LABELS[sport] if sport else None


def closing_check(
    user: User,
    trajectory: Trajectory,
    *,
    outcome: Outcome | str | None,
    dropout_reason: DropoutReason | str | None,
    regular_sport: RegularSport | str | None,
    advice: str,
) -> ClosingCheck:
    """What closing with these values would do, for the check page; changes nothing.

    Raises ServiceError (per field) when the rules refuse the closing. Writes only the read
    row of the participant the page shows.
    """
    choice = checked_choice(
        trajectory,
        outcome=outcome,
        dropout_reason=dropout_reason,
        regular_sport=regular_sport,
        advice=advice,
    )
    params = letter_params(trajectory, choice, local_today())
    consent = trajectory.referral.consent_share_progress
    letter = closing_letter_html(trajectory, params, choice.advice) if consent else None
    record_reads(user, [trajectory], trajectory, "closing check")
    return ClosingCheck(
        trajectory=trajectory,
        choice=choice,
        letter=letter,
        missing=missing_items(trajectory, choice, params),
    )


def missing_items(trajectory: Trajectory, choice: ClosingChoice, params: dict) -> list[str]:
    """What the letter or the closing lacks that the therapist may still want to add."""
    referral = trajectory.referral
    programme = referral.programme
    missing = []
    sessions = params["sessions"]
    if sessions["held"] < programme.supervised_sessions:
        missing.append(
            _(
                "%(held)d of the programme's %(sessions)d supervised sessions are logged. The "
                "letter counts only logged sessions: log any that are missing first.",
                held=sessions["held"],
                sessions=programme.supervised_sessions,
            )
        )
    if params["run_min"]["intake"] is None:
        missing.append(
            _("No intake is recorded: the letter does not say how long they could run at first.")
        )
    if sessions["present"] and params["run_min"]["last"] is None:
        missing.append(
            _(
                "No running minutes are noted for the attended sessions: the letter does not "
                "say how far the participant got."
            )
        )
    taken = {row["instrument"]: row for row in params["scores"]}
    for key in programme.questionnaires:
        if key not in taken:
            missing.append(
                _(
                    "The %(name)s questionnaire was not taken: the letter has no result for it.",
                    name=get_instrument(key).name,
                )
            )
    for key, row in taken.items():
        if row["before"] is None or row["after"] is None:
            missing.append(
                _(
                    "%(name)s has no score at the intake or none after it: the letter shows no "
                    "change for it.",
                    name=get_instrument(key).name,
                )
            )
    if not choice.advice:
        missing.append(_("No summary and advice: the letter has no such section."))
    if referral.consent_share_progress and (
        referral.referrer is None or not referral.referrer.is_active
    ):
        missing.append(
            _("The referrer has no active account: nobody gets an e-mail about the letter.")
        )
    return missing
