"""Services: the only code that changes data. They flush, never commit, and audit."""

from __future__ import annotations


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
