"""Errors a user can cause, each naming the field to fix."""


class FieldError(ValueError):
    """A field a user can fix has the wrong type or value; ``field`` is its dotted path.

    The message reads ``<field><separator><what is wrong>`` (unless it already starts with the
    field's name); ``message`` is that whole text.
    """

    separator = ": "

    def __init__(self, field: str, message: str):
        super().__init__(message if message.startswith(field) else f"{field}{self.separator}{message}")
        self.field = field
        self.message = str(self)


class FieldErrors(FieldError):
    """Several fields are wrong at once: ``errors`` maps each field to its message.

    It reads as the first of them (an API answers with that one); a form shows them all.
    """

    def __init__(self, errors: dict[str, FieldError]):
        first = next(iter(errors.values()))
        super().__init__(first.field, first.message)
        self.errors = errors


class Checks:
    """Runs one check per field and keeps every FieldError, so a form can show them all at once.

    ``value = checks.run(validate, *args)`` returns what ``validate`` returns, or None when it raised;
    ``checks.done()`` raises FieldErrors if any check failed.
    """

    def __init__(self):
        self.errors: dict[str, FieldError] = {}

    def run(self, check, *args, **kwargs):
        """The value ``check`` returns, or None after recording its FieldError."""
        try:
            return check(*args, **kwargs)
        except FieldErrors as exc:
            self.errors.update({k: e for k, e in exc.errors.items() if k not in self.errors})
        except FieldError as exc:
            self.errors.setdefault(exc.field, exc)
        return None

    def done(self) -> None:
        """Raise FieldErrors naming every field that failed (nothing when all passed)."""
        if self.errors:
            raise FieldErrors(self.errors)


class NotFound(LookupError):
    """The named object does not exist."""


class Conflict(ValueError):
    """The request clashes with what exists (a name already taken, a disabled configuration)."""
