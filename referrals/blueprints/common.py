"""Small pieces the blueprints share: service errors on forms, checkbox lists, paging."""

from __future__ import annotations

import re
from datetime import date

import wtforms
from flask import Response, current_app, flash, has_request_context
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectMultipleField, TextAreaField, widgets
from wtforms.validators import StopValidation

from referrals.extensions import db
from referrals.i18n import wtforms_messages
from referrals.models import local_today
from referrals.services import ServiceError

# Control characters: C0 (NUL and the rest), DEL and C1. Multi-line text keeps tab and the
# line breaks; no other field takes any of them. PostgreSQL refuses a NUL in text outright, and
# none of them is ever meant: they come from pasted binary, or from someone probing.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_IN_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
EARLIEST_FILTER_DATE = date(2000, 1, 1)
CONTROL_MESSAGE = _l("Remove the invisible control characters (such as NUL) from this field.")


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _typed(field) -> list[str]:
    return [value for value in (getattr(field, "raw_data", None) or ()) if isinstance(value, str)]


def has_control_characters(field) -> bool:
    """Whether what was typed into `field` holds a control character it may not hold."""
    pattern = _CONTROL_IN_TEXT if isinstance(field, TextAreaField) else _CONTROL
    return any(pattern.search(value) for value in _typed(field))


DATE_FORMATS = ("%Y-%m-%d", "%d-%m-%Y")  # the date picker's ISO form first: it is rendered


class DateField(wtforms.DateField):
    """A date as the browser's date picker sends it (1980-03-01) or as people in the
    Netherlands type it where there is no picker (1-3-1980)."""

    def __init__(self, label=None, validators=None, format=DATE_FORMATS, **kwargs):
        kwargs.setdefault("invalid_value_message", _l("Enter a date, like 1-3-1980."))
        super().__init__(label, validators, format=list(format), **kwargs)


def refuse_control_characters(form, field) -> None:
    """The first validator of every field (Form): stops the field's chain with one message."""
    if has_control_characters(field):
        raise StopValidation(CONTROL_MESSAGE)


class Form(FlaskForm):
    """The base of every form: a field that holds a control character is refused next to the
    field, before its own validators (or the service behind the form) see the value, so that
    nothing reaches the database with it."""

    class Meta:
        def get_translations(self, form):
            # WTForms' messages in the request's language, from a catalogue kept per locale.
            if not current_app.config.get("WTF_I18N_ENABLED", True) or not has_request_context():
                return super().get_translations(form)
            return wtforms_messages

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self:
            field.validators = [refuse_control_characters, *field.validators]

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            if CONTROL_MESSAGE in field.errors:
                field.errors = [CONTROL_MESSAGE]  # not also "not a valid choice" or date
        return valid


class FilterForm(Form):
    """A GET filter form: it changes nothing, so no CSRF token. Text is stripped, so that a
    blank counts as not chosen; control characters (Form) and dates before 2000 or after next
    year are refused next to their field, so a filter never reaches the database with them."""

    class Meta:
        csrf = False

        def bind_field(self, form, unbound_field, options):
            filters = [_strip, *unbound_field.kwargs.get("filters", ())]
            return unbound_field.bind(form=form, filters=filters, **options)

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            if isinstance(field, wtforms.DateField) and not field.errors:
                message = period_date_error(field.data)
                if message:
                    field.errors = [*field.errors, message]
                    valid = False
        return valid


def period_date_error(value: date | None) -> str | None:
    """The message for a date outside any period the product reports on (2000 up to next
    year), or None. Filters and report requests ask it, so that such a date never reaches a
    query (or a stored report job) as a period."""
    latest = date(local_today().year + 1, 12, 31)
    if value is None or EARLIEST_FILTER_DATE <= value <= latest:
        return None
    return _l("Choose a date from 2000 up to %(year)d.", year=latest.year)


class CheckboxListField(SelectMultipleField):
    """Several choices as checkboxes; rendered in a fieldset by the choice_group macro."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def drop_changes() -> None:
    """Undo what a refused service call had written, before the request's commit point."""
    db.session.rollback()


def refuse(error: ServiceError) -> None:
    """A refused action shown on the next page: changes undone, the message flashed."""
    drop_changes()
    flash(error.message, "error")


def apply_service_error(form, error: ServiceError) -> None:
    """Undo the half-done change and show the service's messages next to their fields: every
    one in `error.errors` ({field name: message}) when the service found several, else the one."""
    drop_changes()
    for name, message in error.errors.items():
        field = form._fields.get(name) if name else None
        if field is not None:
            field.errors = [*field.errors, message]
        else:
            form.form_errors.append(message)


MAX_PAGE = 100_000


def page_number(args) -> int:
    """The ?page= number, kept between 1 and MAX_PAGE whatever was typed."""
    return min(max(args.get("page", 1, type=int), 1), MAX_PAGE)


def file_response(data: bytes, *, filename: str, mimetype: str, download: bool = False) -> Response:
    """Every file the product hands out (PDFs, exports): the bytes as they are, a quoted file
    name, shown in the browser or saved (`download`). Like every answer to a logged-in user it
    gets `Cache-Control: no-store` from the security headers (referrals/security.py)."""
    response = Response(data, mimetype=mimetype)
    response.headers.set(
        "Content-Disposition", "attachment" if download else "inline", filename=filename
    )
    return response
