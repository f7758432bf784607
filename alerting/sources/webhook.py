"""The xMatters trigger body (SPEC §2): every field optional, every given field type-checked.

Unknown top-level fields are ignored, as xMatters does, so apps written for it keep working. The
field checks are alerting/validation.py's (the REST API and dashboard use them for the same fields);
what is stricter here is said where it is done.
"""
from __future__ import annotations

from alerting import validation

from .base import AlertChange, checked, expect_object, optional_text

MAX_EXPIRATION_MINUTES = 525600  # one year
MAX_DEDUP_KEY = 255


def parse(payload) -> list[AlertChange]:
    """Parse an xMatters trigger body into one ``trigger`` change."""
    return [validate(payload)]


def validate(body) -> AlertChange:
    """Check every field of a trigger body; raise SourceError naming the first wrong one."""
    body = expect_object(body, "body")
    properties = dict(expect_object(body.get("properties"), "properties", default={}))
    subject = optional_text(body.get("subject"), "subject")
    return AlertChange(
        action="trigger",
        subject=subject or default_subject(properties),
        message=optional_text(body.get("message"), "message", strip=False),
        priority=priority(body.get("priority")),
        properties=properties,
        recipients=recipients(body.get("recipients")),
        response_options=response_options(body.get("responseOptions")),
        expiration_minutes=expiration_minutes(body.get("expirationInMinutes")),
        dedup_key=optional_text(body.get("dedupKey"), "dedupKey", max_len=MAX_DEDUP_KEY),
    )


def default_subject(properties: dict) -> str | None:
    """``properties.Summary``, then ``properties.Subject``; None leaves it to the configuration name."""
    for name in ("Summary", "Subject"):
        value = properties.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def priority(value, field: str = "priority") -> str | None:
    """HIGH, MEDIUM or LOW in any case, spaces around it ignored; None when not given."""
    return checked(validation.priority, value.strip() if isinstance(value, str) else value, field)


def recipients(value, field: str = "recipients") -> list | None:
    """[{"id": "bsmith", "recipientType": "PERSON"|"GROUP"|"DEVICE"}]; the type defaults to PERSON."""
    return checked(validation.recipients, _spelt_out(value, field, "recipientType"), field)


def response_options(value, field: str = "responseOptions") -> list | None:
    """[{"text": "Acknowledge", "action": "STOP_NOTIFYING_USER", "description": "..."}]."""
    return checked(validation.response_options, _spelt_out(value, field, "action"), field)


def expiration_minutes(value, field: str = "expirationInMinutes") -> int | None:
    """A whole number of minutes from 1 to 525600 (a year); true/false are not numbers."""
    return checked(validation.integer, value, field, minimum=1, maximum=MAX_EXPIRATION_MINUTES,
                   message=f"must be a whole number of minutes from 1 to {MAX_EXPIRATION_MINUTES}")


def _spelt_out(value, field: str, kind: str):
    """Each item must be an object (the REST API also takes a bare "bsmith"); spaces around ``kind`` go."""
    if not isinstance(value, list):
        return value
    items = [expect_object(item, f"{field}[{i}]") for i, item in enumerate(value)]
    return [{**item, kind: item[kind].strip()} if isinstance(item.get(kind), str) else item for item in items]
