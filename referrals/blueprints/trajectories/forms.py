"""The intake form."""

from flask_babel import lazy_gettext as _l
from wtforms import IntegerField, RadioField, SelectChoice, TextAreaField
from wtforms.validators import InputRequired, Length, NumberRange

from referrals.blueprints.common import DateField, Form
from referrals.services.trajectories import MAX_RUN_MIN, MAX_WALK_MIN

TEMPLATE_LABELS = {
    "standard": _l("Standard: about 30 minutes of running in the last week"),
    "gentle": _l("Gentle: slower steps, each held at least two weeks"),
}


class IntakeForm(Form):
    intake_on = DateField(
        _l("Date of the intake"), validators=[InputRequired(_l("Enter the date of the intake."))]
    )
    can_walk_min = IntegerField(
        _l("Minutes the participant can walk now"),
        validators=[
            InputRequired(_l("Enter the minutes, 0 if none.")),
            NumberRange(0, MAX_WALK_MIN, _l("Enter minutes from 0 to %(max)d.", max=MAX_WALK_MIN)),
        ],
    )
    can_run_min = IntegerField(
        _l("Minutes the participant can run without stopping now"),
        validators=[
            InputRequired(_l("Enter the minutes, 0 if none.")),
            NumberRange(0, MAX_RUN_MIN, _l("Enter minutes from 0 to %(max)d.", max=MAX_RUN_MIN)),
        ],
    )
    template = RadioField(
        _l("Training plan"),
        choices=[SelectChoice(key, label) for key, label in TEMPLATE_LABELS.items()],
        default="standard",
        validators=[InputRequired(_l("Choose a plan."))],
    )
    remarks = TextAreaField(_l("Remarks"), validators=[Length(max=4000)])
