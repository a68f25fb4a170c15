"""Small pieces the blueprints share: service errors on forms, checkbox lists, paging."""

from __future__ import annotations

import re
from datetime import date

from flask import Response, flash
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, SelectMultipleField, widgets

from referrals.extensions import db
from referrals.models import local_today
from referrals.services import ServiceError

# Control characters (NUL and the rest of C0, DEL and C1); tab and newline are not filter input.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
EARLIEST_FILTER_DATE = date(2000, 1, 1)


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class FilterForm(FlaskForm):
    """A GET filter form: it changes nothing, so no CSRF token. Text is stripped, so that a
    blank counts as not chosen; control characters and dates before 2000 or after next year
    are refused next to their field, so a filter never reaches the database with them."""

    class Meta:
        csrf = False

        def bind_field(self, form, unbound_field, options):
            filters = [_strip, *unbound_field.kwargs.get("filters", ())]
            return unbound_field.bind(form=form, filters=filters, **options)

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        latest = date(local_today().year + 1, 12, 31)
        for field in self:
            typed = " ".join(field.raw_data or ())
            if _CONTROL.search(typed):
                field.errors = [*field.errors, _l("Remove the control characters.")]
                valid = False
            elif (
                isinstance(field, DateField)
                and field.data is not None
                and not EARLIEST_FILTER_DATE <= field.data <= latest
            ):
                message = _l("Choose a date from 2000 up to %(year)d.", year=latest.year)
                field.errors = [*field.errors, message]
                valid = False
        return valid


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
