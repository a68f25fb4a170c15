"""Services: the only code that changes data. They flush, never commit, and audit."""


class ServiceError(Exception):
    """A change the rules do not allow; `field` names the form field the message belongs to."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
