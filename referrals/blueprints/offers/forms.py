"""The therapist's answer to an offer, and the coordinator's choice of therapist."""

from flask_babel import lazy_gettext as _l
from wtforms import HiddenField, RadioField, SelectChoice, TextAreaField
from wtforms.validators import DataRequired, Length

from referrals.blueprints.common import Form
from referrals.labels import DECLINE_LABELS


class DeclineForm(Form):
    reason = RadioField(
        _l("Why do you decline?"),
        choices=[SelectChoice(key.value, label) for key, label in DECLINE_LABELS.items()],
        validators=[DataRequired(_l("Choose a reason."))],
    )
    note = TextAreaField(
        _l("Explanation for the coordinator"),
        validators=[Length(max=1000)],
        description=_l("Required for 'Other reason'."),
    )


class OfferForm(Form):
    therapist_id = HiddenField(validators=[DataRequired()])
