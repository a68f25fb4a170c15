"""Forms for organisations, users and the audit-log filter."""

from flask_babel import lazy_gettext as _l
from wtforms import (
    DateField,
    EmailField,
    IntegerField,
    PasswordField,
    SelectChoice,
    SelectField,
    StringField,
)
from wtforms.validators import DataRequired, Email, Length, NumberRange, Optional, Regexp

from referrals import audit_labels
from referrals.blueprints.common import FilterForm, Form
from referrals.models import OrganisationKind, Role

KIND_LABELS = {
    OrganisationKind.GP_PRACTICE: _l("GP practice"),
    OrganisationKind.MUNICIPALITY: _l("Municipality"),
    OrganisationKind.THERAPIST_PRACTICE: _l("Therapist practice"),
    OrganisationKind.OPERATOR: _l("Operator"),
    OrganisationKind.FUNDER: _l("Funder or care group"),
    OrganisationKind.SCHOOL: _l("School"),
    OrganisationKind.EMPLOYER: _l("Employer"),
}
ROLE_LABELS = {
    Role.REFERRER: _l("Referrer"),
    Role.COORDINATOR: _l("Coordinator"),
    Role.THERAPIST: _l("Therapist"),
    Role.OFFICER: _l("Officer (funder)"),
    Role.ADMIN: _l("Administrator"),
}


def _name_field():
    return StringField(_l("Name"), validators=[DataRequired(_l("Enter a name.")), Length(max=200)])


class OrganisationEditForm(Form):
    name = _name_field()
    code = StringField(
        _l("Code (AGB, CBS, BRIN or KvK)"),
        validators=[Optional(), Length(max=16)],
        description=_l("GP practice: AGB code, 8 digits. Municipality: CBS code, e.g. GM0575."),
    )


class OrganisationForm(OrganisationEditForm):
    kind = SelectField(
        _l("Kind"),
        choices=[SelectChoice(kind.value, label) for kind, label in KIND_LABELS.items()],
        validators=[DataRequired(_l("Choose a kind."))],
    )


class UserEditForm(Form):
    name = _name_field()
    email = EmailField(
        _l("E-mail address"),
        validators=[
            DataRequired(_l("Enter an e-mail address.")),
            Email(
                _l("Enter a valid e-mail address, like name@example.nl."),
                check_deliverability=False,
            ),
            Length(max=254),
        ],
    )
    role = SelectField(
        _l("Role"),
        choices=[SelectChoice(role.value, label) for role, label in ROLE_LABELS.items()],
        validators=[DataRequired(_l("Choose a role."))],
    )


class UserForm(UserEditForm):
    organisation_id = SelectField(
        _l("Organisation"), coerce=int, validators=[DataRequired(_l("Choose an organisation."))]
    )
    password = PasswordField(
        _l("Temporary password"),
        validators=[DataRequired(_l("Enter a temporary password.")), Length(max=1024)],
        description=_l("The user must change it at the first login."),
        render_kw={"autocomplete": "new-password"},
    )


class TemporaryPasswordForm(Form):
    password = UserForm.password


class AuditFilterForm(FilterForm):
    reference = StringField(
        _l("Referral reference"),
        filters=[lambda value: value.upper() if isinstance(value, str) else value],
        validators=[
            Optional(),
            Length(max=20, message=_l("Enter a reference like RT-2026-000123.")),
            Regexp(
                r"^RT-[0-9]{4}-[0-9]{6,}$", message=_l("Enter a reference like RT-2026-000123.")
            ),
        ],
        description=_l(
            "Every row about this referral, its offers, trajectory, sessions, "
            "questionnaires and letters."
        ),
    )
    name = StringField(
        _l("Participant's name"),
        validators=[
            Optional(),
            Length(min=2, max=100, message=_l("Enter 2 to 100 characters of the name.")),
        ],
        description=_l(
            "First name, last name or both. The log records which participants "
            "matched, not the name you typed."
        ),
    )
    user_id = IntegerField(
        _l("User number"),
        validators=[
            Optional(),
            NumberRange(min=1, max=2**31 - 1, message=_l("Enter a positive number.")),
        ],
    )
    participant_id = IntegerField(
        _l("Participant number"),
        validators=[
            Optional(),
            NumberRange(min=1, max=2**31 - 1, message=_l("Enter a positive number.")),
        ],
    )
    action = SelectField(
        _l("Action"),
        choices=[SelectChoice("", _l("All actions"))]
        + [SelectChoice(value, label) for value, label in audit_labels.action_choices()],
        validators=[Optional()],
    )
    date_from = DateField(_l("From"), validators=[Optional()])
    date_to = DateField(_l("Up to and including"), validators=[Optional()])
