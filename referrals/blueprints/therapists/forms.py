"""Forms for the register upload, the therapist's availability and the admin's profile edit."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf.file import FileAllowed, FileField, FileRequired, FileSize
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    SelectChoice,
    SelectField,
    StringField,
    widgets,
)
from wtforms.validators import DataRequired, Email, InputRequired, Length, Optional

from referrals.blueprints.common import CheckboxListField, DateField, Form
from referrals.blueprints.programmes.forms import WholeNumberRange, optional_int
from referrals.labels import WEEKDAY_LABELS
from referrals.services.therapists import LANGUAGE_LABELS, MAX_CAPACITY, MAX_TRAVEL_RADIUS_KM
from referrals.services.therapists.register_file import MAX_FILE_BYTES

SESSION_FORM_LABELS = {"group": _l("Group sessions"), "individual": _l("Individual sessions")}


def _whole_number(label, low: int, high: int, **kwargs) -> IntegerField:
    message = _l("Enter a whole number from %(low)d to %(high)d.", low=low, high=high)
    return IntegerField(
        label,
        validators=[InputRequired(message), WholeNumberRange(low, high, message)],
        invalid_value_message=message,
        widget=widgets.TextInput(),  # a typo stays visible next to its message
        render_kw={"inputmode": "numeric"},
        **kwargs,
    )


class RegisterUploadForm(Form):
    file = FileField(
        _l("Register file (CSV)"),
        validators=[
            FileRequired(_l("Choose the CSV file of the register.")),
            FileAllowed(["csv", "txt"], _l("Choose a .csv or .txt file.")),
            FileSize(MAX_FILE_BYTES, message=_l("The file is larger than 2 MB.")),
        ],
        description=_l(
            "Columns: registratienummer, naam, e-mail (optional), geldig tot, postcode; "
            "separated by ; or , and saved as UTF-8."
        ),
    )


class ApplyImportForm(Form):
    """The preview's confirmation; the choices are the preview's shortened end dates."""

    shorten = CheckboxListField(
        _l("End dates that move earlier"),
        description=_l(
            "Tick the end dates that really are earlier now. An end date you do not tick keeps "
            "its stored value; the other changes are imported."
        ),
        # The choices are the preview's; a key that no longer matches is not shortened and is
        # listed as kept, so a stale or edited value needs no error of its own.
        validate_choice=False,
    )


class AvailabilityForm(Form):
    accepting_referrals = BooleanField(_l("I take new referrals now"))
    session_forms = CheckboxListField(
        _l("Forms of sessions"),
        choices=[SelectChoice(value, label) for value, label in SESSION_FORM_LABELS.items()],
        invalid_choice_message=_l("Choose from the list."),
    )
    weekdays = CheckboxListField(
        _l("Days with sessions"),
        choices=[SelectChoice(day.value, label) for day, label in WEEKDAY_LABELS.items()],
        invalid_choice_message=_l("Choose days from the list."),
    )
    travel_radius_km = _whole_number(
        _l("Travel radius in km"),
        0,
        MAX_TRAVEL_RADIUS_KM,
        description=_l("How far from your practice postcode participants may live."),
    )
    capacity = _whole_number(
        _l("Capacity"),
        0,
        MAX_CAPACITY,
        description=_l("How many participants you can guide at the same time."),
    )
    languages = CheckboxListField(
        _l("Languages"),
        choices=[SelectChoice(code, label) for code, label in LANGUAGE_LABELS.items()],
        invalid_choice_message=_l("Choose languages from the list."),
    )


class TherapistForm(AvailabilityForm):
    brtn_number = StringField(
        _l("BRTN registration number"),
        validators=[DataRequired(_l("Enter the registration number.")), Length(max=20)],
        description=_l("3 to 10 digits, optionally after BRTN."),
    )
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter a name.")), Length(max=200)])
    email = EmailField(
        _l("E-mail address"),
        validators=[
            Optional(),
            Email(
                _l("Enter a valid e-mail address, like name@example.nl."),
                check_deliverability=False,
            ),
            Length(max=254),
        ],
    )
    registered_until = DateField(
        _l("Registered until"),
        validators=[DataRequired(_l("Enter the date, like 31-12-2026."))],
        invalid_value_message=_l("Enter the date, like 31-12-2026."),
    )
    postcode = StringField(
        _l("Practice postcode"),
        validators=[DataRequired(_l("Enter the postcode.")), Length(max=10)],
        description=_l("For example 2201 CK."),
    )
    accepting_referrals = BooleanField(_l("Takes new referrals now"))
    user_id = SelectField(
        _l("Linked account"),
        coerce=optional_int,
        validators=[Optional()],
        invalid_value_message=_l("Choose an account from the list."),
        invalid_choice_message=_l("Choose an account from the list."),
        description=_l("The therapist account that logs in for this register entry."),
    )
