"""Small pieces the blueprints share: service errors on forms, checkbox lists, paging."""

from __future__ import annotations

import sqlalchemy as sa
from wtforms import SelectMultipleField, widgets

from referrals.extensions import db
from referrals.services import ServiceError


class CheckboxListField(SelectMultipleField):
    """Several choices as checkboxes; rendered in a fieldset by the choice_group macro."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def apply_service_error(form, error: ServiceError) -> None:
    """Undo the half-done change and show the service's messages next to their fields: every
    one in `error.errors` ({field name: message}) when the service found several, else the one."""
    db.session.rollback()
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


def page_of(query: sa.Select, page: int, size: int) -> tuple[list, bool]:
    """One page of `query` and whether there is a next page."""
    rows = db.session.scalars(query.offset((page - 1) * size).limit(size + 1)).all()
    return rows[:size], len(rows) > size
