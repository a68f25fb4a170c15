"""The referral form, the withdraw form and the list filter."""

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    EmailField,
    HiddenField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, Email, Length, Optional

from referrals.blueprints.common import CheckboxListField, DateField, FilterForm, Form
from referrals.labels import FORM_LABELS, REASON_LABELS, STATE_LABELS, WEEKDAY_LABELS


def _choices(labels: dict) -> list[SelectChoice]:
    return [SelectChoice(key.value, label) for key, label in labels.items()]


class ReferralForm(Form):
    first_name = StringField(
        _l("First name"), validators=[DataRequired(_l("Enter the first name.")), Length(max=100)]
    )
    last_name = StringField(
        _l("Last name"), validators=[DataRequired(_l("Enter the last name.")), Length(max=100)]
    )
    date_of_birth = DateField(
        _l("Date of birth"),
        validators=[DataRequired(_l("Enter the date of birth, like 1-3-1980."))],
    )
    postcode = StringField(
        _l("Postcode"),
        validators=[DataRequired(_l("Enter the postcode.")), Length(max=10)],
        description=_l("For example 2201 AB."),
    )
    phone = StringField(_l("Phone number"), validators=[Optional(), Length(max=20)])
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
        description=_l("A phone number, an e-mail address or both."),
    )
    bsn = StringField(
        _l("BSN (optional)"),
        validators=[Optional(), Length(max=12)],
        description=_l("Citizen service number; only care providers may send it."),
    )
    reasons = CheckboxListField(
        _l("Reasons for referral"),
        choices=_choices(REASON_LABELS),
        validators=[DataRequired(_l("Choose at least one reason."))],
    )
    description = TextAreaField(
        _l("Description"),
        validators=[
            DataRequired(_l("Describe briefly why you refer this person.")),
            Length(max=4000),
        ],
        description=_l("Complaints, what was tried so far, anything the therapist should know."),
    )
    preferred_form = RadioField(
        _l("Preferred form"),
        choices=_choices(FORM_LABELS),
        default="either",
        validators=[DataRequired(_l("Choose group, individual or no preference."))],
    )
    preferred_days = CheckboxListField(_l("Preferred days"), choices=_choices(WEEKDAY_LABELS))
    consent_to_refer = BooleanField(
        _l("The participant agrees to this referral"),
        validators=[
            DataRequired(
                _l("A referral needs the participant's consent. Ask for it before you refer.")
            )
        ],
    )
    consent_share_progress = BooleanField(
        _l("The participant agrees that progress is shared with us")
    )
    confirm_duplicate = HiddenField(default="")
    # One key per loaded form: the same form sent twice (a double click, a retry, two tabs
    # restored from one page) saves one referral.
    submission_key = HiddenField()


class WithdrawForm(Form):
    reason = TextAreaField(
        _l("Why is the referral withdrawn?"),
        validators=[DataRequired(_l("Say why the referral is withdrawn.")), Length(max=1000)],
    )


class ReferralFilterForm(FilterForm):
    state = SelectField(
        _l("State"),
        choices=[SelectChoice("", _l("All states")), *_choices(STATE_LABELS)],
        validators=[Optional()],
    )
    programme = SelectField(_l("Programme"), validators=[Optional()])
    q = StringField(_l("Name or reference"), validators=[Optional(), Length(max=100)])
