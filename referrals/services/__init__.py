"""Services: the only code that changes data. They flush, never commit, and audit."""

from __future__ import annotations

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
