"""Outcome questionnaires entered item by item at intake, midway and end (issue 5).

Which instruments a trajectory uses comes from its programme; how they are scored comes from
their descriptions in services.questionnaires. This module stores the answers and the score, and
summarises them for the trajectory page and the closing letter.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import format_date, format_decimal, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from referrals import audit
from referrals.extensions import db
from referrals.models import (
    LOCAL_ZONE,
    NO_SPORT,
    AuditAction,
    Moment,
    QuestionnaireResponse,
    RegularSport,
    Trajectory,
    User,
    local_today,
)
from referrals.services import ServiceError
from referrals.services.trajectories.questionnaires import (
    INSTRUMENTS,
    Instrument,
    get_instrument,
    score,
    too_few_answered,
    validate_answers,
)

MOMENT_LABELS = {
    Moment.INTAKE: _l("Intake"),
    Moment.MIDWAY: _l("Midway"),
    Moment.END: _l("End"),
    Moment.FOLLOW_UP: _l("Follow-up"),
}
DURING = (Moment.INTAKE, Moment.MIDWAY, Moment.END)  # while the trajectory runs
# Interpretations by (instrument, band or category key); an unknown key is shown as it is.
CATEGORY_LABELS = {
    ("k10", "low"): _l("Low risk of anxiety or depression"),
    ("k10", "moderate"): _l("Moderate risk of anxiety or depression"),
    ("k10", "high"): _l("High risk of anxiety or depression"),
    ("mhc_sf", "flourishing"): _l("Flourishing"),
    ("mhc_sf", "moderate"): _l("Moderately mentally healthy"),
    ("mhc_sf", "languishing"): _l("Languishing"),
    ("who5", "poor_wellbeing"): _l("Poor well-being"),
    ("who5", "adequate_wellbeing"): _l("Adequate well-being"),
}
DIRECTION_LABELS = {
    "better": _l("improved"),
    "worse": _l("worsened"),
    "same": _l("unchanged"),
}


def item_field(number: int) -> str:
    """The form field (and error key) of an item: item_1, item_2, ..."""
    return f"item_{number}"


def category_label(instrument_key: str, category: str | None) -> str | None:
    if category is None:
        return None
    return str(CATEGORY_LABELS.get((instrument_key, category), category))


def programme_instruments(trajectory: Trajectory) -> list[Instrument]:
    """The programme's questionnaires that are described, in the programme's order."""
    keys = trajectory.referral.programme.questionnaires or []
    return [INSTRUMENTS[key] for key in keys if key in INSTRUMENTS]


def find_response(
    trajectory: Trajectory, instrument_key: str, moment: Moment
) -> QuestionnaireResponse | None:
    return db.session.scalars(
        sa.select(QuestionnaireResponse).where(
            QuestionnaireResponse.trajectory_id == trajectory.id,
            QuestionnaireResponse.instrument == instrument_key,
            QuestionnaireResponse.moment == moment,
        )
    ).one_or_none()


def moments_of(trajectory: Trajectory) -> tuple[Moment, ...]:
    """The moments of the trajectory's programme: intake, midway, end, and the follow-up where
    the programme asks for one."""
    if trajectory.referral.programme.follow_up_months:
        return (*DURING, Moment.FOLLOW_UP)
    return DURING


def follow_up_due_on(trajectory: Trajectory) -> date | None:
    """The day the follow-up questionnaire is due: the programme's months after the (Dutch)
    day of closing; None while open or without a follow-up."""
    months = trajectory.referral.programme.follow_up_months
    if not months or trajectory.closed_at is None:
        return None
    closed = trajectory.closed_at.astimezone(LOCAL_ZONE).date()
    index = closed.year * 12 + closed.month - 1 + months
    year, month = divmod(index, 12)
    last_day = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(closed.day, last_day))


def entry_refusal(trajectory: Trajectory, moment: Moment) -> str | None:
    """Why this moment's questionnaires cannot be entered now, or None: during the trajectory
    the intake, midway and end; after closing only the follow-up, where the programme asks
    for one."""
    if moment is Moment.FOLLOW_UP:
        if Moment.FOLLOW_UP not in moments_of(trajectory):
            return _("This programme asks for no follow-up questionnaire.")
        if not trajectory.is_closed:
            return _("The follow-up questionnaire is for after the trajectory is closed.")
        return None
    if trajectory.is_closed:
        return _("This trajectory is closed: questionnaires can no longer change.")
    if trajectory.plan is None or trajectory.intake_on is None:
        return _("Record the intake first; then the questionnaires can be entered.")
    return None


def _check_entry_allowed(
    trajectory: Trajectory, instrument_key: str, moment: Moment = Moment.END
) -> Instrument:
    if refusal := entry_refusal(trajectory, moment):
        raise ServiceError(refusal)
    if trajectory.plan is None or trajectory.intake_on is None:
        raise ServiceError(_("Record the intake first; then the questionnaires can be entered."))
    if instrument_key not in {i.key for i in programme_instruments(trajectory)}:
        raise ServiceError(_("This questionnaire is not part of the programme."), "instrument")
    return get_instrument(instrument_key)


def _stored_answers(instrument: Instrument, answers: Mapping[object, object]) -> dict:
    """{"1": 3, "2": None, ...} for every item; blank or absent answers are missing (None)."""
    given = {_int(key): value for key, value in answers.items()}  # keys are validated numbers
    stored = {}
    for number in range(1, len(instrument.items) + 1):
        value = given.get(number)
        if isinstance(value, str):
            value = value.strip() or None
        stored[str(number)] = None if value is None else _int(value)
    return stored


def _int(value: object) -> int:
    return int(value.strip()) if isinstance(value, str) else int(value)


def answer_errors(instrument: Instrument, answers: Mapping[object, object]) -> dict:
    """Messages per form field (item_<n>; None for the form) for answers out of range or wrong,
    and, for the form, too few answers for a score (`too_few_answered`)."""
    errors: dict[str | None, str] = {}
    for key, message in validate_answers(instrument.key, answers).items():
        known = isinstance(key, int) and 1 <= key <= len(instrument.items)
        errors[item_field(key) if known else None] = message
    if message := too_few_answered(instrument, answers):
        errors[None] = f"{errors[None]} {message}" if None in errors else message
    return errors


def record_response(
    trajectory: Trajectory,
    *,
    instrument_key: str,
    moment: Moment | str,
    taken_on: date,
    answers: Mapping[object, object],
    actor: User,
) -> QuestionnaireResponse:
    """Store one questionnaire's item answers and score; entering it again corrects it.

    `answers` maps item numbers to the values as typed ("3", "" or None for unanswered). Answers
    with fewer items answered than the instrument's `min_answered` (the minimum for a score) are
    refused: an untouched form is no measurement. Raises ServiceError whose `errors` maps form
    fields (taken_on, item_<n>; None for the form) to a message, all at once. Writes the audit
    row; the caller commits.
    """
    try:
        moment = Moment(moment)
    except ValueError:
        raise ServiceError(_("Unknown moment."), "moment") from None
    instrument = _check_entry_allowed(trajectory, instrument_key, moment)
    errors: dict[str | None, str] = {}
    closed_on = trajectory.closed_at.astimezone(LOCAL_ZONE).date() if trajectory.closed_at else None
    if taken_on > local_today():
        errors["taken_on"] = _("The date lies in the future.")
    elif moment is Moment.FOLLOW_UP and closed_on and taken_on < closed_on:
        errors["taken_on"] = _(
            "The date lies before the closing (%(date)s).", date=format_date(closed_on)
        )
    elif trajectory.intake_on and taken_on < trajectory.intake_on:
        errors["taken_on"] = _(
            "The date lies before the intake (%(date)s).", date=format_date(trajectory.intake_on)
        )
    errors.update(answer_errors(instrument, answers))
    if errors:
        raise ServiceError.of(errors)
    stored = _stored_answers(instrument, answers)
    result = score(instrument.key, {int(n): v for n, v in stored.items()})
    response = find_response(trajectory, instrument.key, moment)
    corrected = response is not None
    if response is None:
        response = QuestionnaireResponse(trajectory=trajectory, instrument=instrument.key)
        response.moment = moment
        db.session.add(response)
    response.taken_on = taken_on
    response.answers = stored
    response.score = result.total
    response.subscores = dict(result.subscales)
    response.category = result.band
    response.missing_items = len(result.missing)
    response.recorded_by = actor
    try:
        with db.session.begin_nested():
            db.session.flush()
    except sa.exc.IntegrityError:
        # The same questionnaire was saved for this moment a moment ago, in another request.
        raise ServiceError(
            _("These answers were just saved by someone else. Open the form again to correct them.")
        ) from None
    audit.record(
        AuditAction.UPDATE if corrected else AuditAction.CREATE,
        actor=actor,
        obj=response,
        participant_id=trajectory.referral.participant_id,
        detail="corrected" if corrected else "entered",
    )
    return response


# --- Summaries -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MomentResult:
    """One entered questionnaire as the trajectory page shows it."""

    moment: Moment
    moment_label: str
    taken_on: date
    score: float | None  # rounded to 2 decimals; None when too many items are missing
    category: str | None  # key
    category_label: str | None
    missing_items: int

    @property
    def prorated(self) -> bool:
        return self.score is not None and self.missing_items > 0


@dataclass(frozen=True)
class MomentRow:
    moment: Moment
    moment_label: str
    result: MomentResult | None  # None: not entered yet


@dataclass(frozen=True)
class InstrumentOutcome:
    key: str
    name: str
    higher_is_better: bool
    rows: tuple[MomentRow, ...]  # intake, midway, end
    baseline: MomentResult | None  # intake
    latest: MomentResult | None  # end, else midway
    change: float | None  # latest - baseline, when both have a score
    direction: str | None  # better, worse, same
    direction_label: str | None
    to_do: tuple[Moment, ...]


@dataclass(frozen=True)
class OutcomeSummary:
    instruments: tuple[InstrumentOutcome, ...]
    can_change: bool  # False once the trajectory is closed
    follow_up_open: bool = False  # closed, and the programme asks for a follow-up
    follow_up_due_on: date | None = None

    def may_enter(self, moment: Moment) -> bool:
        return self.follow_up_open if moment is Moment.FOLLOW_UP else self.can_change


def _result(response: QuestionnaireResponse) -> MomentResult:
    return MomentResult(
        moment=response.moment,
        moment_label=str(MOMENT_LABELS[response.moment]),
        taken_on=response.taken_on,
        score=None if response.score is None else round(response.score, 2),
        category=response.category,
        category_label=category_label(response.instrument, response.category),
        missing_items=response.missing_items,
    )


def direction_of(instrument: Instrument, change: float | None) -> str | None:
    """better, worse or same: what a change in score means for this instrument."""
    if change is None:
        return None
    if change == 0:
        return "same"
    return "better" if (change > 0) == instrument.higher_is_better else "worse"


def _instrument_outcome(
    instrument: Instrument,
    responses: dict[Moment, QuestionnaireResponse],
    moments: tuple[Moment, ...] = DURING,
) -> InstrumentOutcome:
    results = {moment: _result(r) for moment, r in responses.items()}
    baseline = results.get(Moment.INTAKE)
    latest = results.get(Moment.END) or results.get(Moment.MIDWAY)
    change = None
    if baseline and latest and baseline.score is not None and latest.score is not None:
        change = round(latest.score - baseline.score, 2)
    direction = direction_of(instrument, change)
    return InstrumentOutcome(
        key=instrument.key,
        name=instrument.name,
        higher_is_better=instrument.higher_is_better,
        rows=tuple(MomentRow(m, str(MOMENT_LABELS[m]), results.get(m)) for m in moments),
        baseline=baseline,
        latest=latest,
        change=change,
        direction=direction,
        direction_label=str(DIRECTION_LABELS[direction]) if direction else None,
        to_do=tuple(m for m in moments if m not in results),
    )


def _responses(trajectory: Trajectory) -> dict[str, dict[Moment, QuestionnaireResponse]]:
    by_instrument: dict[str, dict[Moment, QuestionnaireResponse]] = {}
    rows = db.session.scalars(
        sa.select(QuestionnaireResponse).where(QuestionnaireResponse.trajectory_id == trajectory.id)
    )
    for response in rows:
        by_instrument.setdefault(response.instrument, {})[response.moment] = response
    return by_instrument


def outcome_summary(trajectory: Trajectory) -> OutcomeSummary | None:
    """What the trajectory page shows of the questionnaires; None before the intake.

    Does not audit: the page that shows it records the read.
    """
    if trajectory.plan is None:
        return None
    responses = _responses(trajectory)
    moments = moments_of(trajectory)
    return OutcomeSummary(
        instruments=tuple(
            _instrument_outcome(instrument, responses.get(instrument.key, {}), moments)
            for instrument in programme_instruments(trajectory)
        ),
        can_change=not trajectory.is_closed,
        follow_up_open=trajectory.is_closed and Moment.FOLLOW_UP in moments,
        follow_up_due_on=follow_up_due_on(trajectory),
    )


@dataclass(frozen=True)
class LetterScore:
    """One instrument for the closing letter: baseline (intake) and latest (end, else midway)."""

    name: str  # e.g. "K10"
    baseline: float | None  # None: not entered, or too many items missing for a score
    baseline_category: str | None  # translated label, e.g. "Matig risico op angst of depressie"
    latest: float | None
    latest_category: str | None
    latest_moment: str | None  # translated label: "Einde" or "Halverwege"; None if neither
    direction: str | None  # translated: "verbeterd", "verslechterd", "onveranderd"; or None


def scores_for_letter(trajectory: Trajectory) -> list[LetterScore]:
    """Per programme instrument, in the programme's order: baseline and latest score.

    Scores are rounded to 2 decimals; labels are translated in the current locale. Does not
    audit: the caller that shows or prints the letter records that. Empty before the intake.
    """
    summary = outcome_summary(trajectory)
    if summary is None:
        return []
    return [
        LetterScore(
            name=outcome.name,
            baseline=outcome.baseline.score if outcome.baseline else None,
            baseline_category=outcome.baseline.category_label if outcome.baseline else None,
            latest=outcome.latest.score if outcome.latest else None,
            latest_category=outcome.latest.category_label if outcome.latest else None,
            latest_moment=outcome.latest.moment_label if outcome.latest else None,
            direction=outcome.direction_label,
        )
        for outcome in summary.instruments
    ]


def score_message(response: QuestionnaireResponse) -> str:
    """The flash after saving: the score and its interpretation, or why there is none."""
    name = get_instrument(response.instrument).name
    moment = MOMENT_LABELS[response.moment]
    missing = response.missing_items
    if response.score is None:
        return ngettext(
            "%(name)s (%(moment)s) saved without a score: %(num)d question unanswered.",
            "%(name)s (%(moment)s) saved without a score: %(num)d questions unanswered.",
            missing,
            name=name,
            moment=moment,
        )
    parts = [
        _(
            "%(name)s (%(moment)s) saved: score %(score)s.",
            name=name,
            moment=moment,
            score=format_decimal(round(response.score, 2)),
        )
    ]
    if label := category_label(response.instrument, response.category):
        parts.append(f"{label}.")
    if missing:
        parts.append(
            ngettext(
                "%(num)d question unanswered: it counts as the average of the others.",
                "%(num)d questions unanswered: they count as the average of the others.",
                missing,
            )
        )
    return " ".join(parts)


def missing_item_rule(instrument: Instrument) -> list[str]:
    """The instrument's rule for unanswered items, in plain words, from its description."""
    allowed = instrument.max_missing
    if allowed == 0:
        rule = [_("A score needs every question answered; with one unanswered there is none.")]
    else:
        rule = [
            ngettext(
                "If %(num)d question is unanswered, it counts as the average of the answered"
                " questions. With %(more)d or more unanswered there is no score.",
                "If up to %(num)d questions are unanswered, they count as the average of the"
                " answered questions. With %(more)d or more unanswered there is no score.",
                allowed,
                more=allowed + 1,
            )
        ]
    rule.append(
        _(
            "The answers can be saved once at least %(min)d of the %(total)d questions are"
            " answered.",
            min=instrument.min_answered,
            total=len(instrument.items),
        )
    )
    if instrument.subscales:
        rule.append(_("The same rule applies to each subscale over its own questions."))
    if instrument.categories:
        rule.append(_("The category is decided only when every question is answered."))
    return rule


# --- Regular sport at the follow-up ----------------------------------------------------------


def record_follow_up_sport(trajectory: Trajectory, where: str, *, actor: User) -> Trajectory:
    """Where the participant runs at the follow-up: a RegularSport value, or NO_SPORT. Only
    after closing, where the programme asks for a follow-up. Writes the audit row; the caller
    commits."""
    if refusal := entry_refusal(trajectory, Moment.FOLLOW_UP):
        raise ServiceError(refusal)
    if where not in {*(s.value for s in RegularSport), NO_SPORT}:
        raise ServiceError(_("Choose where the participant runs now."), "sport")
    trajectory.sport_at_follow_up = where
    db.session.flush()
    audit.record(
        AuditAction.UPDATE,
        actor=actor,
        obj=trajectory,
        participant_id=trajectory.referral.participant_id,
        detail="sport at the follow-up",
    )
    return trajectory
