"""What every source parser returns (AlertChange), the error it raises (SourceError), and shared checks.

SourceError is the FieldError of an inbound payload. The checks are alerting/validation.py's,
shared with the REST API and the dashboard; ``checked`` re-words their FieldError as a SourceError
for the same field, so the integration URL's messages read "<field> <what is wrong>" as the
sources' own do.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field

from alerting import validation
from alerting.errors import FieldError

ACTIONS = ("trigger", "acknowledge", "resolve")
_MISSING = object()


@dataclass
class AlertChange:
    """One thing an inbound payload asks for: open an alert, or acknowledge/resolve the one with ``dedup_key``.

    ``None`` means "not given": the caller falls back to the configuration (subject to its name,
    priority to its default, recipients and response options to its own).
    """
    action: str
    dedup_key: str | None = None
    subject: str | None = None
    message: str | None = None
    priority: str | None = None
    properties: dict = field(default_factory=dict)
    recipients: list | None = None
    response_options: list | None = None
    expiration_minutes: int | None = None
    raw_status: str | None = None
    # xMatters trigger extras (SPEC §2): per-alert update subscriptions, all-at-once groups, unused fields
    callbacks: list = field(default_factory=list)
    escalation_override: bool = False
    ignored_fields: list = field(default_factory=list)

    def to_json(self) -> dict:
        """The change in Klaxon's camelCase JSON form (dashboard preview)."""
        return {"action": self.action, "dedupKey": self.dedup_key, "subject": self.subject,
                "message": self.message, "priority": self.priority, "properties": self.properties,
                "recipients": self.recipients, "responseOptions": self.response_options,
                "expirationInMinutes": self.expiration_minutes, "rawStatus": self.raw_status}


class SourceError(FieldError):
    """A FieldError in an inbound payload: its message reads "<field> <what is wrong>" (no colon),
    the wording integration clients have always been sent."""

    separator = " "


def expect_object(value, field: str, default=_MISSING) -> dict:
    """``value`` if it is a JSON object; ``default`` when it is absent (null) and a default is given."""
    if value is None and default is not _MISSING:
        return default
    if not isinstance(value, dict):
        raise SourceError(field, "must be a JSON object")
    return value


def checked(validator, value, field: str, *, message: str | None = None, **kwargs):
    """Run a validator of alerting/validation.py on ``value``; its FieldError becomes a SourceError.

    ``message``, when given, replaces the validator's wording (one rule said whole beats its parts).
    """
    try:
        return validator(value, field, **kwargs)
    except FieldError as exc:
        raise SourceError(exc.field, message or exc.message.removeprefix(f"{exc.field}: ")) from None


def optional_text(value, field: str, max_len: int | None = None, strip: bool = True) -> str | None:
    """A string or nothing: null and "" (after stripping) are None; any other type is an error.

    ``strip=False`` returns the text as sent (a message keeps its indentation) once it is checked.
    """
    text = checked(validation.text, value, field, max_len=max_len or sys.maxsize, default=None)
    if not text:
        return None
    return text if strip else value


def required_text(value, field: str, max_len: int | None = None) -> str:
    """A non-empty string."""
    return checked(validation.text, value, field, max_len=max_len or sys.maxsize, required=True)


def put_property(properties: dict, key: str, value, prefix: str) -> None:
    """Add ``key`` unless an earlier source of properties took the name; then add ``prefix.key``."""
    properties[key if key not in properties else f"{prefix}.{key}"] = value
