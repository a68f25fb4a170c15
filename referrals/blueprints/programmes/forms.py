"""The programme form, and reading tariffs typed the Dutch way (45,50) into whole cents."""

from __future__ import annotations

import re
from decimal import Decimal

from flask_babel import format_decimal
from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    Optional,
    StopValidation,
    ValidationError,
)

from referrals.blueprints.common import CheckboxListField, DateField, Form
from referrals.labels import QUESTIONNAIRE_LABELS
from referrals.services import ServiceError
from referrals.services.programmes import parse_postcode_areas

# Euros, optionally with one or two decimals after a comma or point, or ",-" (Dutch for ",00").
_EURO_AMOUNT = re.compile(r"([0-9]{1,6})(?:[.,]([0-9]{1,2}|-))?")


def parse_euro_cents(text: str) -> int:
    """Read an amount typed as 45,50, 45.50, 45, 45,- or € 45 into whole cents."""
    cleaned = re.sub(r"\s+", "", text or "").removeprefix("€").removesuffix("€")
    match = _EURO_AMOUNT.fullmatch(cleaned)
    if match is None:
        raise ValueError(f"not an amount in euros: {text!r}")
    euros, fraction = match.groups()
    cents = 0 if fraction in (None, "-") else int(fraction.ljust(2, "0"))
    return int(euros) * 100 + cents


def format_euros(cents: int) -> str:
    """Whole cents as the user's locale writes an amount: 45,50 in Dutch, 45.50 in English."""
    return format_decimal(Decimal(cents).scaleb(-2), format="0.00")


def optional_int(value) -> int | None:
    """Coerce for a select with an empty "choose" option: the empty value stays None."""
    return None if value in (None, "") else int(value)


class EuroField(StringField):
    """An amount of money typed in euros; `data` holds whole cents."""

    def __init__(self, label=None, validators=None, invalid_value_message=None, **kwargs):
        super().__init__(label, validators, **kwargs)
        self.invalid_value_message = invalid_value_message

    def process_formdata(self, valuelist):
        if not valuelist:
            return
        try:
            self.data = parse_euro_cents(valuelist[0])
        except ValueError as exc:
            self.data = None
            raise ValueError(self.invalid_value_message) from exc

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return format_euros(self.data) if self.data is not None else ""


class WholeNumberRange:
    """A whole number from `low` to `high`, with one message for a wrong number or no number."""

    def __init__(self, low: int, high: int, message):
        self.low, self.high, self.message = low, high, message

    def __call__(self, form, field):
        if field.process_errors:
            raise StopValidation()  # the field already says what is wrong
        if field.data is None or not self.low <= field.data <= self.high:
            raise ValidationError(self.message)


def _whole_number(label, low: int, high: int, **kwargs) -> IntegerField:
    message = _l("Enter a whole number from %(low)d to %(high)d.", low=low, high=high)
    # A text input, not type="number": browsers empty a number input that holds a typo, so the
    # person would no longer see what they typed next to the message.
    return IntegerField(
        label,
        validators=[InputRequired(message), WholeNumberRange(low, high, message)],
        invalid_value_message=message,
        widget=widgets.TextInput(),
        render_kw={"inputmode": "numeric"},
        **kwargs,
    )


class ProgrammeForm(Form):
    name = StringField(
        _l("Name"),
        validators=[
            DataRequired(_l("Enter a name.")),
            Length(max=200, message=_l("Use at most 200 characters.")),
        ],
    )
    funder_id = SelectField(
        _l("Funder"),
        coerce=optional_int,
        validators=[DataRequired(_l("Choose the funder."))],
        invalid_value_message=_l("Choose a municipality or funder from the list."),
        invalid_choice_message=_l("Choose a municipality or funder from the list."),
        description=_l("The municipality or other funder that pays for the programme."),
    )
    starts_on = DateField(
        _l("Starts on"),
        validators=[DataRequired(_l("Enter the start date, like 1-1-2026."))],
        invalid_value_message=_l("Enter the start date, like 1-1-2026."),
    )
    ends_on = DateField(
        _l("Ends on (optional)"),
        validators=[Optional()],
        invalid_value_message=_l("Enter the end date, like 31-12-2027, or leave it empty."),
        description=_l("Leave empty if the programme has no end date yet."),
    )
    referrer_organisations = CheckboxListField(
        _l("Referring organisations"),
        coerce=int,
        invalid_value_message=_l("Choose organisations from the list."),
        invalid_choice_message=_l("Choose organisations from the list."),
        description=_l("Whose referrers may refer people to this programme."),
    )
    coordinators = CheckboxListField(
        _l("Coordinators"),
        coerce=int,
        invalid_value_message=_l("Choose coordinators from the list."),
        invalid_choice_message=_l("Choose coordinators from the list."),
        description=_l("Who triage the referrals and offer them to therapists."),
    )
    therapists = CheckboxListField(
        _l("Therapists"),
        coerce=int,
        invalid_value_message=_l("Choose therapists from the list."),
        invalid_choice_message=_l("Choose therapists from the list."),
        description=_l("BRTN-registered therapists who take referrals in this programme."),
    )
    postcode_areas = TextAreaField(
        _l("Postcode areas (PC4)"),
        validators=[
            DataRequired(_l("Enter at least one PC4 code or range.")),
            Length(max=2000, message=_l("Use at most 2000 characters.")),
        ],
        description=_l("PC4 codes and ranges, separated by commas, like 2201-2204, 2211."),
    )
    min_age = _whole_number(_l("Minimum age"), 0, 120, default=18)
    funded_places = _whole_number(_l("Funded places"), 0, 100_000)
    trajectory_weeks = _whole_number(_l("Trajectory length in weeks"), 1, 104, default=12)
    supervised_sessions = _whole_number(_l("Supervised sessions"), 1, 200, default=12)
    tariff = EuroField(
        _l("Tariff per session in euros"),
        validators=[InputRequired(_l("Enter the tariff per session."))],
        invalid_value_message=_l("Enter an amount in euros, like 45,50."),
        description=_l("For example 45,50."),
    )
    offer_deadline_days = _whole_number(
        _l("Working days a therapist has to answer an offer"), 1, 30, default=5
    )
    auto_offer = BooleanField(
        _l("Offer new referrals automatically to the best-matching therapist")
    )
    follow_up_months = SelectField(
        _l("Follow-up questionnaire after closing"),
        choices=[
            SelectChoice("", _l("No follow-up")),
            SelectChoice("3", _l("3 months after closing")),
            SelectChoice("6", _l("6 months after closing")),
            SelectChoice("12", _l("12 months after closing")),
        ],
        coerce=optional_int,
        validators=[Optional()],
        invalid_choice_message=_l("Choose a follow-up from the list."),
        description=_l(
            "The programme's questionnaires once more, some months after the trajectory: does"
            " the effect last?"
        ),
    )
    questionnaires = CheckboxListField(
        _l("Outcome questionnaires"),
        choices=[SelectChoice(q.value, label) for q, label in QUESTIONNAIRE_LABELS.items()],
        invalid_choice_message=_l("Choose questionnaires from the list."),
    )

    def validate_postcode_areas(self, field):
        # The service reads the areas again when saving; checking here shows every mistake at once.
        try:
            parse_postcode_areas(field.data)
        except ServiceError as error:
            raise ValidationError(error.message) from error
