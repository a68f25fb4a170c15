"""Services: the only code that changes data. They flush, never commit, and audit."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from referrals.extensions import db


class ServiceError(Exception):
    """A change the rules do not allow; `field` names the form field the message belongs to.

    `errors` holds every problem found at once ({field: message}; a key may be a tuple such as
    (participant, field) whose last part is the field); a single problem is its own `errors`.
    """

    def __init__(self, message: str, field: str | None = None, *, errors: dict | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
        self.errors = errors if errors is not None else {field: message}

    @classmethod
    def of(cls, errors: dict) -> ServiceError:
        """Several problems at once; the first gives the message and the field."""
        key, message = next(iter(errors.items()))
        return cls(message, key[-1] if isinstance(key, tuple) else key, errors=errors)


def page_of(query: sa.Select, page: int, size: int) -> tuple[list, bool]:
    """One page of `query` (pages count from 1) and whether there is a next page."""
    rows = db.session.scalars(query.offset((page - 1) * size).limit(size + 1)).all()
    return list(rows[:size]), len(rows) > size


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CURSOR = re.compile(r"(-?\d{1,18})\.(\d{1,18})")


@dataclass(frozen=True)
class Cursor:
    """A place in a list ordered by (moment, id): the row it was taken from. As a URL value
    "<microseconds since 1970>.<id>", exact for any microsecond."""

    moment: datetime
    id: int

    @property
    def token(self) -> str:
        micros = (self.moment.astimezone(UTC) - EPOCH) // timedelta(microseconds=1)
        return f"{micros}.{self.id}"

    @classmethod
    def parse(cls, token: str | None) -> Cursor | None:
        """None for anything that is not a cursor: the list then starts at its beginning."""
        match = CURSOR.fullmatch(token or "")
        if not match:
            return None
        try:
            moment = EPOCH + timedelta(microseconds=int(match[1]))
        except OverflowError:
            return None
        return cls(moment, int(match[2]))


@dataclass
class KeysetPage:
    """One page of a keyset-paged list; `previous` and `following` are the cursors of the
    pages before and after it in the list's order (None at either end): ask for
    `before=previous` and `after=following`."""

    rows: list = field(default_factory=list)
    previous: Cursor | None = None
    following: Cursor | None = None


def keyset_page(
    query: sa.Select,
    moment,
    row_id,
    *,
    size: int,
    after: Cursor | None = None,
    before: Cursor | None = None,
    newest_first: bool = True,
    columns: bool = False,
) -> KeysetPage:
    """One page of `query` ordered by (moment, row_id), newest first (or oldest first), that
    starts after the `after` cursor or ends before the `before` one: the database reads the
    page from an index on (…, moment, id) wherever it lies, so a deep page costs what the
    first one does (OFFSET would read and drop every row before it). The rows are the
    query's model objects, or with `columns` its rows of columns (which name the moment's
    and the id's columns as the model does)."""
    key = sa.tuple_(moment, row_id)
    forward = before is None  # reading away from the list's start
    cursor = after if forward else before
    if cursor is not None:
        bound = sa.tuple_(
            sa.literal(cursor.moment, moment.type), sa.literal(cursor.id, row_id.type)
        )
        later_in_list = key < bound if newest_first else key > bound
        earlier_in_list = key > bound if newest_first else key < bound
        query = query.where(later_in_list if forward else earlier_in_list)
    descending = newest_first == forward
    order = (moment.desc(), row_id.desc()) if descending else (moment.asc(), row_id.asc())
    query = query.order_by(*order).limit(size + 1)
    if columns:
        rows = list(db.session.execute(query).all())
    else:
        rows = list(db.session.scalars(query).unique().all())
    more = len(rows) > size
    rows = rows[:size]
    if not forward:
        rows.reverse()
    page = KeysetPage(rows=rows)
    if rows:
        first, last = rows[0], rows[-1]
        has_previous = (after is not None) if forward else more
        has_following = more if forward else True
        if has_previous:
            page.previous = Cursor(_value(first, moment), first.id)
        if has_following:
            page.following = Cursor(_value(last, moment), last.id)
    return page


def _value(row, column) -> datetime:
    return getattr(row, column.key)


def serialize_on(*names: str) -> None:
    """Hold a lock on each name until the transaction ends, so that checks-then-inserts on
    the same names (such as the duplicate rule for one person) run one after the other.

    PostgreSQL: transaction-level advisory locks, taken in sorted order (no deadlock between
    two callers with overlapping names). SQLite: nothing to do, every transaction already
    starts with BEGIN IMMEDIATE and so holds the one write lock from its first statement.
    """
    if db.session.get_bind().dialect.name != "postgresql":
        return
    for name in sorted(set(names)):
        db.session.execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"), {"name": name}
        )
