"""Every form refuses control characters next to the field, before anything reaches the database.

PostgreSQL refuses a NUL in text outright (a psycopg DataError, so a 500), and no field is ever
meant to hold one. The base form (blueprints.common.Form) refuses them; these tests find every
form class the blueprints define and put the characters into each of its fields in turn.
"""

from __future__ import annotations

import importlib
import pkgutil

import pytest
import sqlalchemy as sa
from werkzeug.datastructures import MultiDict
from wtforms import (
    BooleanField,
    DateField,
    FileField,
    RadioField,
    SelectField,
    SelectMultipleField,
    TextAreaField,
)
from wtforms.fields.core import UnboundField

import referrals.blueprints
from referrals.blueprints.common import CONTROL_MESSAGE, FilterForm, Form
from referrals.blueprints.trajectories.questionnaires import questionnaire_form_class
from referrals.models import AuditAction, AuditEvent, Referral
from referrals.services.trajectories.questionnaires import INSTRUMENTS
from tests import factories
from tests.test_intake import form_data


def _all_form_classes() -> list[type[Form]]:
    for module in pkgutil.walk_packages(referrals.blueprints.__path__, "referrals.blueprints."):
        importlib.import_module(module.name)
    found, todo = set(), [Form]
    while todo:
        for subclass in todo.pop().__subclasses__():
            if subclass not in found:
                found.add(subclass)
                todo.append(subclass)
    found |= {questionnaire_form_class(instrument) for instrument in INSTRUMENTS.values()}
    return sorted(
        (cls for cls in found if cls is not FilterForm), key=lambda c: c.__module__ + c.__name__
    )


def _text_fields(form_class) -> list[tuple[str, type]]:
    fields = []
    for name in dir(form_class):
        unbound = getattr(form_class, name, None)
        if isinstance(unbound, UnboundField) and not issubclass(unbound.field_class, FileField):
            fields.append((name, unbound.field_class))
    return fields


# A form of only its CSRF token has nothing to type into (the token itself is checked by CSRF).
FORMS = [cls for cls in _all_form_classes() if _text_fields(cls)]


def _build(form_class, data: MultiDict):
    form = form_class(formdata=data)
    for field in form:
        if isinstance(field, SelectField | SelectMultipleField | RadioField) and not field.choices:
            field.choices = [("1", "1")]
    return form


def test_the_forms_are_found():
    names = {cls.__name__ for cls in FORMS}
    assert {"LoginForm", "ReferralForm", "CloseForm", "QuestionnaireForm"} <= names
    assert len(FORMS) > 20


@pytest.mark.parametrize("form_class", FORMS, ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_every_field_of_every_form_refuses_control_characters(app, form_class):
    fields = _text_fields(form_class)
    with app.test_request_context(method="POST"):
        for name, field_class in fields:
            if field_class is BooleanField:
                value = "y\x00"
            elif field_class is DateField:
                value = "1-3-1980\x00"
            else:
                value = "a\x00b"
            form = _build(form_class, MultiDict({name: value}))
            assert not form.validate(), (form_class.__name__, name)
            assert form[name].errors == [CONTROL_MESSAGE], (form_class.__name__, name)


@pytest.mark.parametrize("character", ["\x00", "\x1b", "\x7f", "\x85", "\t", "\r"])
def test_single_line_fields_refuse_every_control_character(app, character):
    from referrals.blueprints.auth.forms import LoginForm

    with app.test_request_context(method="POST"):
        form = LoginForm(formdata=MultiDict({"email": f"a{character}@b.example", "password": "x"}))
        assert not form.validate()
        assert form.email.errors == [CONTROL_MESSAGE]
        assert form.password.errors == []


def test_multi_line_text_keeps_tabs_and_line_breaks_but_not_nul(app):
    from referrals.blueprints.intake.forms import WithdrawForm

    text_fields = [name for name, cls in _text_fields(WithdrawForm) if cls is TextAreaField]
    assert text_fields
    name = text_fields[0]
    with app.test_request_context(method="POST"):
        form = _build(WithdrawForm, MultiDict({name: "line one\r\n\tline two"}))
        form.validate()
        assert CONTROL_MESSAGE not in form[name].errors
        form = _build(WithdrawForm, MultiDict({name: "line one\x00"}))
        assert not form.validate()
        assert form[name].errors == [CONTROL_MESSAGE]


def test_a_nul_in_the_login_e_mail_is_answered_next_to_the_field(client, db):
    """Anonymous, so before any account is known: on PostgreSQL this was a 500."""
    response = client.post("/login", data={"email": "x\x00@example.org", "password": "secret"})
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    field = body[body.index('id="email"') - 400 : body.index('id="email"') + 600]
    assert "stuurtekens" in field
    assert 'value="x' in field  # what was typed is shown again (the NUL itself is escaped)
    assert (
        db.session.scalar(
            sa.select(sa.func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == AuditAction.LOGIN_FAILED)
        )
        == 0
    )


def test_a_nul_in_a_referral_is_refused_and_nothing_is_saved(client, db, login_as):
    world = factories.make_world(therapist=False)
    login_as(user=world.gp)
    data = form_data(last_name="Visser\x00", description="Eerste regel.\r\n\tTweede.")
    response = client.post(f"/referrals/new/{world.programme.id}", data=data)
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    field = body[body.index('id="last_name"') - 400 : body.index('id="last_name"') + 600]
    assert "stuurtekens" in field
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Referral)) == 0
