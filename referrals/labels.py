"""How the interface names domain values, in the user's language."""

from collections.abc import Mapping

from flask_babel import lazy_gettext as _l
from markupsafe import escape

from referrals.models import (
    Attendance,
    DeclineReason,
    DropoutReason,
    OfferState,
    Outcome,
    PreferredForm,
    Questionnaire,
    Reason,
    ReferralState,
    RegularSport,
    RejectionReason,
    Weekday,
)

STATE_LABELS = {
    ReferralState.SUBMITTED: _l("submitted"),
    ReferralState.OFFERED: _l("offered to a therapist"),
    ReferralState.ACCEPTED: _l("accepted"),
    ReferralState.ACTIVE: _l("active"),
    ReferralState.COMPLETED: _l("completed"),
    ReferralState.DROPPED_OUT: _l("dropped out"),
    ReferralState.REJECTED: _l("rejected"),
    ReferralState.WITHDRAWN: _l("withdrawn"),
}
REASON_LABELS = {
    Reason.STRESS: _l("Stress"),
    Reason.BURNOUT: _l("Burnout"),
    Reason.DEPRESSION: _l("Depression"),
    Reason.ANXIETY: _l("Anxiety"),
    Reason.LOW_MOOD: _l("Low mood"),
    Reason.OTHER: _l("Other"),
}
FORM_LABELS = {
    PreferredForm.GROUP: _l("In a group"),
    PreferredForm.INDIVIDUAL: _l("Individually"),
    PreferredForm.EITHER: _l("No preference"),
}
WEEKDAY_LABELS = {
    Weekday.MONDAY: _l("Monday"),
    Weekday.TUESDAY: _l("Tuesday"),
    Weekday.WEDNESDAY: _l("Wednesday"),
    Weekday.THURSDAY: _l("Thursday"),
    Weekday.FRIDAY: _l("Friday"),
    Weekday.SATURDAY: _l("Saturday"),
    Weekday.SUNDAY: _l("Sunday"),
}


def N_(message: str) -> str:
    """Mark a message for extraction only; it is translated where it is used."""
    return message


# Translated where used: matching translates them in bulk, once per match.
WEEKDAY_SHORT_MESSAGES = {
    Weekday.MONDAY: N_("Mon"),
    Weekday.TUESDAY: N_("Tue"),
    Weekday.WEDNESDAY: N_("Wed"),
    Weekday.THURSDAY: N_("Thu"),
    Weekday.FRIDAY: N_("Fri"),
    Weekday.SATURDAY: N_("Sat"),
    Weekday.SUNDAY: N_("Sun"),
}
REJECTION_LABELS = {
    RejectionReason.NOT_ELIGIBLE: _l("Not eligible for this programme"),
    RejectionReason.OTHER_CARE: _l("Needs other care"),
    RejectionReason.DUPLICATE: _l("Duplicate referral"),
    RejectionReason.OTHER: _l("Other reason"),
}
QUESTIONNAIRE_LABELS = {
    Questionnaire.MHC_SF: _l("MHC-SF (well-being, 14 items)"),
    Questionnaire.K10: _l("K10 (distress, 10 items)"),
    Questionnaire.WHO5: _l("WHO-5 (well-being, 5 items)"),
}

OFFER_STATE_LABELS = {
    OfferState.OPEN: _l("open"),
    OfferState.ACCEPTED: _l("accepted"),
    OfferState.DECLINED: _l("declined"),
    OfferState.EXPIRED: _l("deadline passed"),
    OfferState.WITHDRAWN: _l("withdrawn"),
}
DECLINE_LABELS = {
    DeclineReason.NO_CAPACITY: _l("No room at the moment"),
    DeclineReason.SCHEDULE: _l("Days or times do not fit"),
    DeclineReason.DISTANCE: _l("Too far away"),
    DeclineReason.NOT_SUITABLE: _l("Not the right help for this person"),
    DeclineReason.OTHER: _l("Other reason"),
}

ATTENDANCE_LABELS = {
    Attendance.PRESENT: _l("present"),
    Attendance.EXCUSED: _l("absent with notice"),
    Attendance.ABSENT: _l("absent without notice"),
}
PLAN_CHANGE_LABELS = {
    "edit": _l("Week changed"),
    "repeat": _l("Week repeated"),
    "step_back": _l("Step back"),
}

OUTCOME_LABELS = {
    Outcome.COMPLETED: _l("Completed"),
    Outcome.DROPPED_OUT: _l("Dropped out"),
    Outcome.REGULAR_SPORT: _l("Moved on to regular sport"),
}
DROPOUT_REASON_LABELS = {
    DropoutReason.MOTIVATION: _l("Motivation"),
    DropoutReason.INJURY_OR_ILLNESS: _l("Injury or illness"),
    DropoutReason.MOVED: _l("Moved house"),
    DropoutReason.OTHER_HELP: _l("Found other help"),
    DropoutReason.UNREACHABLE: _l("Could not be reached"),
    DropoutReason.OTHER: _l("Other reason"),
}
REGULAR_SPORT_LABELS = {
    RegularSport.RUNNING_CLUB: _l("A running club"),
    RegularSport.START_TO_RUN: _l("A Start to Run group"),
    RegularSport.OTHER: _l("Elsewhere"),
}


class TranslatedLabels(Mapping):
    """One of the label dicts for one template render: each label translated the first time
    the page shows it, not again on every row (a lazy string looks its catalogue up each time
    it is shown). Rendered as Jinja renders the lazy string (escape() takes its __html__)."""

    __slots__ = ("_labels", "_translated")

    def __init__(self, labels: dict):
        self._labels = labels
        self._translated: dict = {}

    def __getitem__(self, key):
        try:
            return self._translated[key]
        except KeyError:
            label = self._translated[key] = escape(self._labels[key])
            return label

    def __iter__(self):
        return iter(self._labels)

    def __len__(self) -> int:
        return len(self._labels)


TEMPLATE_LABELS = {
    "state_labels": STATE_LABELS,
    "reason_labels": REASON_LABELS,
    "form_labels": FORM_LABELS,
    "weekday_labels": WEEKDAY_LABELS,
    "rejection_labels": REJECTION_LABELS,
    "questionnaire_labels": QUESTIONNAIRE_LABELS,
    "offer_state_labels": OFFER_STATE_LABELS,
    "decline_labels": DECLINE_LABELS,
    "attendance_labels": ATTENDANCE_LABELS,
    "plan_change_labels": PLAN_CHANGE_LABELS,
    "outcome_labels": OUTCOME_LABELS,
    "dropout_reason_labels": DROPOUT_REASON_LABELS,
    "regular_sport_labels": REGULAR_SPORT_LABELS,
}


def template_labels() -> dict:
    """The label dicts every template gets, fresh for each render (translated as shown)."""
    return {name: TranslatedLabels(labels) for name, labels in TEMPLATE_LABELS.items()}
