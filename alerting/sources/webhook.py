"""The xMatters trigger body (SPEC §2): every field optional, every given field type-checked.

Unknown top-level fields are ignored, as xMatters does, so apps written for it keep working.
"""
from __future__ import annotations

from .base import PRIORITIES, AlertChange, SourceError, expect_object, optional_text, required_text

RECIPIENT_TYPES = ("PERSON", "GROUP", "DEVICE")
RESPONSE_ACTIONS = ("RECORD_RESPONSE", "STOP_NOTIFYING_USER", "STOP_NOTIFYING_TARGET",
                    "ESCALATE", "END", "ASSIGN_TO_USER")
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
    """HIGH, MEDIUM or LOW in any case; None when not given."""
    if value is None:
        return None
    if not isinstance(value, str) or value.strip().upper() not in PRIORITIES:
        raise SourceError(field, "must be one of " + ", ".join(PRIORITIES))
    return value.strip().upper()


def recipients(value, field: str = "recipients") -> list | None:
    """[{"id": "bsmith", "recipientType": "PERSON"|"GROUP"|"DEVICE"}]; the type defaults to PERSON."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise SourceError(field, "must be a list of {id, recipientType} objects")
    out = []
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        item = expect_object(item, where)
        rid = required_text(item.get("id"), f"{where}.id", max_len=255)
        rtype = item.get("recipientType", "PERSON")
        if not isinstance(rtype, str) or rtype.strip().upper() not in RECIPIENT_TYPES:
            raise SourceError(f"{where}.recipientType", "must be one of " + ", ".join(RECIPIENT_TYPES))
        rtype = rtype.strip().upper()
        if rtype == "DEVICE" and "|" not in rid:
            raise SourceError(f"{where}.id", "must name a DEVICE as 'username|Device Name'")
        out.append({"id": rid, "recipientType": rtype})
    return out


def response_options(value, field: str = "responseOptions") -> list | None:
    """[{"text": "Acknowledge", "action": "STOP_NOTIFYING_USER", "description": "..."}]."""
    if value is None:
        return None
    if not isinstance(value, list):
        raise SourceError(field, "must be a list of {text, action} objects")
    out, seen = [], set()
    for i, item in enumerate(value):
        where = f"{field}[{i}]"
        item = expect_object(item, where)
        text = required_text(item.get("text"), f"{where}.text", max_len=100)
        if text.lower() in seen:
            # a response link picks its option by text, so two alike would be ambiguous
            raise SourceError(f"{where}.text", f"repeats {text!r}; each option needs its own text")
        seen.add(text.lower())
        action = item.get("action", "RECORD_RESPONSE")
        if not isinstance(action, str) or action.strip().upper() not in RESPONSE_ACTIONS:
            raise SourceError(f"{where}.action", "must be one of " + ", ".join(RESPONSE_ACTIONS))
        option = {"text": text, "action": action.strip().upper()}
        description = optional_text(item.get("description"), f"{where}.description", max_len=500)
        if description:
            option["description"] = description
        out.append(option)
    return out


def expiration_minutes(value, field: str = "expirationInMinutes") -> int | None:
    """A whole number of minutes from 1 to 525600 (a year); true/false are not numbers."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_EXPIRATION_MINUTES:
        raise SourceError(field, f"must be a whole number of minutes from 1 to {MAX_EXPIRATION_MINUTES}")
    return value
