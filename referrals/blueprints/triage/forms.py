"""The coordinator's rejection form."""

from flask_babel import lazy_gettext as _l
from wtforms import RadioField, SelectChoice, TextAreaField
from wtforms.validators import DataRequired, Length

from referrals.blueprints.common import Form
from referrals.labels import REJECTION_LABELS


class RejectForm(Form):
    reason = RadioField(
        _l("Reason"),
        choices=[SelectChoice(key.value, label) for key, label in REJECTION_LABELS.items()],
        validators=[DataRequired(_l("Choose a reason."))],
    )
    note = TextAreaField(
        _l("Explanation for the referrer"),
        validators=[Length(max=1000)],
        description=_l("Required for 'other reason'. The referrer sees this text."),
    )
