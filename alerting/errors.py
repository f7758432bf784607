"""Errors a user can cause, each naming the field to fix."""


class FieldError(ValueError):
    """A request field has the wrong type or value; ``field`` is its dotted path."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}" if not message.startswith(field) else message)
        self.field = field
        self.message = str(self)


class NotFound(LookupError):
    """The named object does not exist."""


class Conflict(ValueError):
    """The request clashes with what exists (a name already taken, a disabled configuration)."""
