"""Forms for groups, session logging and plan changes."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from wtforms import (
    BooleanField,
    HiddenField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import InputRequired, Length, Optional

from referrals.blueprints.common import DateField, Form, has_control_characters
from referrals.labels import ATTENDANCE_LABELS, WEEKDAY_LABELS
from referrals.models import GROUP_MAX_SIZE, Attendance, Weekday


class GroupForm(Form):
    name = StringField(
        _l("Name of the group"),
        validators=[InputRequired(_l("Enter the name of the group.")), Length(max=100)],
    )
    weekday = SelectField(
        _l("Day"),
        choices=[SelectChoice(day.value, label) for day, label in WEEKDAY_LABELS.items()],
        validators=[InputRequired(_l("Choose a day."))],
    )
    starts_at = TimeField(
        _l("Starts at"), validators=[InputRequired(_l("Enter the time, for example 09:30."))]
    )
    meeting_place = StringField(
        _l("Meeting place"),
        validators=[InputRequired(_l("Enter where the group meets.")), Length(max=200)],
    )
    max_size = IntegerField(
        _l("Number of places (3 to 8)"),
        default=GROUP_MAX_SIZE,
        validators=[InputRequired(_l("Enter the number of places, 3 to 8."))],
    )


class AddMemberForm(Form):
    trajectory = SelectField(
        _l("Participant"),
        coerce=int,
        validate_choice=False,  # the service explains why a participant cannot be added
        validators=[InputRequired(_l("Choose a participant."))],
    )


# Minutes and Borg mean nothing for someone who was not there: ignored then, whatever was typed
# (the form prefills the planned minutes for everyone).
IGNORED_WHEN_AWAY = ("done_run_min", "done_total_min", "borg")
AWAY = (Attendance.EXCUSED.value, Attendance.ABSENT.value)


class AttendanceForm(Form):
    """One participant's row; prefixed with the trajectory id so errors land on their row.

    For someone away, minutes and Borg are ignored: not checked and not passed on, though what
    was typed stays on the page. A control character is refused in them all the same.
    """

    class Meta:
        csrf = False

    attendance = RadioField(
        _l("Attendance"),
        choices=[SelectChoice(kind.value, label) for kind, label in ATTENDANCE_LABELS.items()],
        default=Attendance.PRESENT.value,
        validators=[InputRequired(_l("Choose whether the participant was there."))],
    )
    done_run_min = IntegerField(_l("Minutes of running done"), validators=[Optional()])
    done_total_min = IntegerField(_l("Minutes in total done"), validators=[Optional()])
    borg = IntegerField(
        _l("Perceived exertion (Borg 6-20)"),
        description=_l("6 is no exertion at all, 20 is maximal."),
        validators=[Optional()],
    )
    note = TextAreaField(
        _l("Note (only for you)"),
        validators=[Length(max=1000, message=_l("At most 1000 characters."))],
    )

    @property
    def away(self) -> bool:
        return self.attendance.data in AWAY

    def validate(self, extra_validators=None) -> bool:
        super().validate(extra_validators)
        if self.away:
            for name in IGNORED_WHEN_AWAY:
                field = self[name]
                field.data = None
                if not has_control_characters(field):
                    field.errors = []
        return not any(field.errors for field in self)

    def typed_while_away(self) -> bool:
        """Whether minutes or Borg were sent for someone away (and so ignored)."""
        typed = (value for name in IGNORED_WHEN_AWAY for value in self[name].raw_data or ())
        return self.away and any(value.strip() for value in typed if isinstance(value, str))


class ConfirmedDateForm(Form):
    """A session's date, and a box to confirm a date the service asked about: `confirm_for`
    carries the date the question was about, so the tick does not carry over to another."""

    held_on = DateField(
        _l("Date of the session"),
        validators=[InputRequired(_l("Enter the date of the session."))],
    )
    confirm_for = HiddenField()

    def confirmed(self) -> bool:
        box = self[self.confirm_field]
        held_on = self.held_on.data
        return bool(box.data) and held_on is not None and self.confirm_for.data == str(held_on)

    def ask(self, message: str) -> None:
        """Show the service's question next to the box, about the date now typed."""
        box = self[self.confirm_field]
        box.data = False
        box.errors = [*box.errors, message]
        self.confirm_for.data = str(self.held_on.data)

    @property
    def asking(self) -> bool:
        """Whether the box is shown: asked now, or ticked before."""
        box = self[self.confirm_field]
        return bool(box.errors or box.data)


class SessionDateForm(ConfirmedDateForm):
    confirm_field = "confirm_near"
    confirm_near = BooleanField(_l("Yes, this is another session: log it"))


class SessionCorrectionForm(ConfirmedDateForm):
    """The day of the session (moving it needs a confirmation); the rows carry the rest."""

    confirm_field = "confirm_date"
    confirm_date = BooleanField(_l("Yes, change the date of this session"))


class SessionDeleteForm(Form):
    """Only the CSRF token: the confirmation page is the confirmation."""


PLAN_ACTION_LABELS = {
    "repeat": _l("Repeat this week (it was too hard)"),
    "step_back": _l("Step back to less running from this week on"),
    "edit": _l("Change this week by hand"),
}


class PlanChangeForm(Form):
    week_number = SelectField(
        _l("Week"), coerce=int, validators=[InputRequired(_l("Choose a week of the plan."))]
    )
    action = RadioField(
        _l("Change"),
        choices=[SelectChoice(key, label) for key, label in PLAN_ACTION_LABELS.items()],
        validators=[InputRequired(_l("Choose what to change."))],
    )
    run_min = IntegerField(_l("Running minutes per block"), validators=[Optional()])
    walk_min = IntegerField(_l("Walking minutes per block"), validators=[Optional()])
    repeats = IntegerField(_l("Repeats"), validators=[Optional()])
    reason = TextAreaField(
        _l("Reason"),
        validators=[InputRequired(_l("Say why the plan changes.")), Length(max=500)],
    )

    def set_weeks(self, count: int) -> None:
        self.week_number.choices = [SelectChoice(n, str(n)) for n in range(1, count + 1)]


def weekday_of(value: str) -> Weekday:
    return Weekday(value)
