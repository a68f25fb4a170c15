"""The closing letter to the referrer: what it is made from, the PDF, and the stored Report.

Made from counts and scores only (never a session's note), always in the installation's
language, and kept as an immutable Report with the SHA-256 of its bytes.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask import current_app, render_template
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup

from referrals import audit
from referrals.extensions import db
from referrals.labels import DROPOUT_REASON_LABELS, OUTCOME_LABELS, REGULAR_SPORT_LABELS
from referrals.models import (
    LOCAL_ZONE,
    Attendance,
    AuditAction,
    DropoutReason,
    Moment,
    Outcome,
    QuestionnaireResponse,
    RegularSport,
    Report,
    ReportKind,
    SessionAttendance,
    TrainingSession,
    Trajectory,
    User,
    utcnow,
)
from referrals.pdf import render_pdf
from referrals.services.trajectories.outcomes import category_label, direction_of
from referrals.services.trajectories.questionnaires import get_instrument

LETTER_TEMPLATE = "closing_letter.html"  # under templates/reports/, for render_pdf
LETTER_BODY_TEMPLATE = "reports/closing_letter_body.html"  # the letter's text, PDF and page
LETTER_PAGE_HEADING_LEVEL = 3  # on the check page the letter sits under an h2

# How the letter words a change (the direction itself comes from outcomes.direction_of).
CHANGE_WORDS = {"better": _l("better"), "worse": _l("worse"), "same": _l("unchanged")}
MOMENT_LABELS = {
    Moment.INTAKE: _l("at the intake"),
    Moment.MIDWAY: _l("midway"),
    Moment.END: _l("at the end"),
}


def closing_labels() -> dict:
    """The labels the closing templates use."""
    return {
        "outcome_labels": OUTCOME_LABELS,
        "dropout_reason_labels": DROPOUT_REASON_LABELS,
        "regular_sport_labels": REGULAR_SPORT_LABELS,
    }


@dataclass(frozen=True)
class Attended:
    held: int  # sessions the participant was expected at
    present: int
    excused: int
    absent: int

    @property
    def rate(self) -> int | None:
        return round(100 * self.present / self.held) if self.held else None


def attendance_counts(trajectory: Trajectory) -> Attended:
    rows = db.session.execute(
        sa.select(SessionAttendance.attendance, sa.func.count())
        .where(SessionAttendance.trajectory_id == trajectory.id)
        .group_by(SessionAttendance.attendance)
    ).all()
    counts = {Attendance(a): n for a, n in rows}
    return Attended(
        held=sum(counts.values()),
        present=counts.get(Attendance.PRESENT, 0),
        excused=counts.get(Attendance.EXCUSED, 0),
        absent=counts.get(Attendance.ABSENT, 0),
    )


def _score_rows(trajectory: Trajectory) -> list[dict]:
    """Per instrument the score at the intake and the latest after it (end, else midway)."""
    responses = db.session.scalars(
        sa.select(QuestionnaireResponse)
        .where(QuestionnaireResponse.trajectory_id == trajectory.id)
        .order_by(QuestionnaireResponse.instrument)
    ).all()
    by_instrument: dict[str, dict[Moment, QuestionnaireResponse]] = {}
    for response in responses:
        by_instrument.setdefault(response.instrument, {})[Moment(response.moment)] = response
    rows = []
    for key, moments in by_instrument.items():
        before = moments.get(Moment.INTAKE)
        after = moments.get(Moment.END) or moments.get(Moment.MIDWAY)
        rows.append(
            {
                "instrument": key,
                "before": _score_of(before),
                "after": _score_of(after),
                "after_moment": Moment(after.moment).value if after else None,
            }
        )
    return rows


def _score_of(response: QuestionnaireResponse | None) -> dict | None:
    if response is None:
        return None
    return {
        "score": response.score,
        "category": response.category,
        "taken_on": response.taken_on.isoformat(),
    }


@dataclass(frozen=True)
class ClosingChoice:
    """How the therapist closes (or proposes to close) a trajectory: what the letter says."""

    outcome: Outcome
    dropout_reason: DropoutReason | None = None
    regular_sport: RegularSport | None = None
    advice: str = ""

    @classmethod
    def of(cls, trajectory: Trajectory) -> ClosingChoice:
        """The choice a closed trajectory was closed with."""
        return cls(
            trajectory.outcome,
            trajectory.dropout_reason,
            trajectory.regular_sport,
            trajectory.closing_note or "",
        )


def letter_params(trajectory: Trajectory, choice: ClosingChoice, closed_on: date) -> dict:
    """What the letter is made from, stored with it: ids, outcome, counts and scores.

    Reads the trajectory and changes nothing, so the check page can show the letter before
    anything is closed: the outcome comes from `choice` and the period ends on `closed_on`.
    """
    attended = attendance_counts(trajectory)
    present = db.session.execute(
        sa.select(SessionAttendance.done_run_min, SessionAttendance.week_number)
        .where(
            SessionAttendance.trajectory_id == trajectory.id,
            SessionAttendance.attendance == Attendance.PRESENT,
        )
        .join(SessionAttendance.session)
        .order_by(TrainingSession.held_on)
    ).all()
    held_on = db.session.scalars(
        sa.select(TrainingSession.held_on)
        .join(SessionAttendance.session)
        .where(SessionAttendance.trajectory_id == trajectory.id)
        .order_by(TrainingSession.held_on)
    ).all()
    start = trajectory.first_session_on or (held_on[0] if held_on else None)
    start = start or trajectory.intake_on or trajectory.started_at.date()
    return {
        "trajectory_id": trajectory.id,
        "referral_id": trajectory.referral_id,
        "reference": trajectory.referral.reference,
        "therapist_id": trajectory.therapist_id,
        "outcome": choice.outcome.value,
        "dropout_reason": choice.dropout_reason and choice.dropout_reason.value,
        "regular_sport": choice.regular_sport and choice.regular_sport.value,
        "period": [start.isoformat(), closed_on.isoformat()],
        "sessions": {
            "held": attended.held,
            "present": attended.present,
            "excused": attended.excused,
            "absent": attended.absent,
        },
        "run_min": {
            "intake": trajectory.can_run_min,
            "first": next((r for r, _w in present if r is not None), None),
            "last": next((r for r, _w in reversed(present) if r is not None), None),
            "last_week": next((w for _r, w in reversed(present) if w is not None), None),
        },
        "plan_weeks": len(trajectory.plan["weeks"]) if trajectory.plan else None,
        "scores": _score_rows(trajectory),
    }


def _letter_scores(rows: list[dict]) -> list[dict]:
    """Score rows for the template: names, meaning and the direction of the change."""
    shown = []
    for row in rows:
        instrument = get_instrument(row["instrument"])
        higher_better = instrument.higher_is_better
        before, after = row["before"], row["after"]
        difference = None
        if before and after and before["score"] is not None and after["score"] is not None:
            difference = after["score"] - before["score"]
        direction = direction_of(instrument, difference)
        change = str(CHANGE_WORDS[direction]) if direction else None
        shown.append(
            {
                "name": instrument.name,
                "direction": _("a higher score is better")
                if higher_better
                else _("a lower score is better"),
                "before": before,
                "after": after,
                "after_moment": MOMENT_LABELS[Moment(row["after_moment"])]
                if row["after_moment"]
                else None,
                "change": change,
            }
        )
    return shown


def band_label(instrument_key: str, key: str | None) -> str:
    """What a band or category means, as the questionnaire pages say it."""
    return category_label(instrument_key, key) or ""


def _letter_context(trajectory: Trajectory, params: dict, advice: str) -> dict:
    """What the letter's template gets; call it in the letter's language (scores are words)."""
    return {
        "trajectory": trajectory,
        "referral": trajectory.referral,
        "participant": trajectory.referral.participant,
        "therapist": trajectory.therapist,
        "params": params,
        "outcome": Outcome(params["outcome"]),
        "dropout_reason": _member(DropoutReason, params["dropout_reason"]),
        "regular_sport": _member(RegularSport, params["regular_sport"]),
        "advice": advice.strip(),
        "period": [date.fromisoformat(d) for d in params["period"]],
        "scores": _letter_scores(params["scores"]),
        "band_label": band_label,
        "today": utcnow(),
        **closing_labels(),
    }


def _member(enum_type, value):
    return enum_type(value) if value else None


def letter_language():
    """The letter is always in the installation's language (Dutch), whatever the page's is."""
    return force_locale(current_app.config["BABEL_DEFAULT_LOCALE"])


def render_closing_letter(trajectory: Trajectory, params: dict, advice: str) -> bytes:
    """The closing letter as PDF, always in the installation's language (Dutch)."""
    with letter_language():
        return render_pdf(LETTER_TEMPLATE, **_letter_context(trajectory, params, advice))


def closing_letter_html(trajectory: Trajectory, params: dict, advice: str) -> Markup:
    """The same letter as HTML for a page (the check before closing): the PDF's own body
    template, with its headings moved down under the page's."""
    with letter_language():
        html = render_template(
            LETTER_BODY_TEMPLATE,
            heading_level=LETTER_PAGE_HEADING_LEVEL,
            **_letter_context(trajectory, params, advice),
        )
    return Markup(html)  # noqa: S704 - the output of an autoescaping .html template


def store_closing_letter(trajectory: Trajectory, *, actor: User) -> Report:
    """Render the letter and keep it as an immutable Report with its SHA-256."""
    choice = ClosingChoice.of(trajectory)
    # The Dutch day, as on the check page (local_today()), not the UTC one.
    params = letter_params(trajectory, choice, trajectory.closed_at.astimezone(LOCAL_ZONE).date())
    pdf = render_closing_letter(trajectory, params, choice.advice)
    report = Report(
        kind=ReportKind.CLOSING_LETTER,
        created_at=utcnow(),
        created_by_id=actor.id,
        trajectory_id=trajectory.id,
        params=params,
        filename=f"afsluitbrief-{trajectory.referral.reference}.pdf",
        sha256=hashlib.sha256(pdf).hexdigest(),
        pdf=pdf,
    )
    db.session.add(report)
    db.session.flush()
    audit.record(
        AuditAction.CREATE,
        actor=actor,
        obj=report,
        participant_id=trajectory.referral.participant_id,
        detail="closing letter",
    )
    return report
