"""The xMatters trigger body (SPEC §2): every field optional, every given field type-checked.

Unknown top-level fields are ignored, as xMatters does, so apps written for it keep working; the
ones xMatters documents and Klaxon has no use for are named back (``ignored_fields``). The field
checks are alerting/validation.py's (the REST API and dashboard use them for the same fields);
what is stricter here is said where it is done. A trigger is also read as xMatters clients write
it (``xmatters=True``): recipients by ``targetName`` or as bare names, unknown recipient types
kept to be reported unresolved, response options picked by ``id`` or ``number``, ``callbacks``.
"""
from __future__ import annotations

from alerting import validation
from alerting.sources import callbacks as callback_entries
from alerting.sources.base import AlertChange, checked, expect_object, optional_text

MAX_EXPIRATION_MINUTES = 525600  # one year
MAX_DEDUP_KEY = 255
# xMatters trigger fields about phones and conference bridges, which Klaxon does not have
IGNORED_FIELDS = ("overrideDeviceRestrictions", "requirePhonePassword", "bypassPhoneIntro", "voicemailOptions",
                  "conference")


def parse(payload) -> list[AlertChange]:
    """Parse an xMatters trigger body into one ``trigger`` change."""
    return [validate(payload, xmatters=True)]


def validate(body, xmatters: bool = False) -> AlertChange:
    """Check every field of a trigger body; raise SourceError naming the first wrong one.

    ``xmatters``: read it as xMatters clients write it (see the module docstring); a custom
    mapping's output (``xmatters=False``) is held to the plain form.
    """
    body = expect_object(body, "body")
    properties = dict(expect_object(body.get("properties"), "properties", default={}))
    subject = optional_text(body.get("subject"), "subject")
    change = AlertChange(
        action="trigger",
        subject=subject or default_subject(properties),
        message=optional_text(body.get("message"), "message", strip=False),
        priority=priority(body.get("priority")),
        properties=properties,
        recipients=recipients(body.get("recipients"), tolerant=xmatters),
        response_options=response_options(body.get("responseOptions"), picks=xmatters),
        expiration_minutes=expiration_minutes(body.get("expirationInMinutes")),
        dedup_key=optional_text(body.get("dedupKey"), "dedupKey", max_len=MAX_DEDUP_KEY),
    )
    if xmatters:
        change.callbacks = callback_entries.parse(body.get("callbacks"))
        change.escalation_override = bool(checked(validation.boolean, body.get("escalationOverride"),
                                                  "escalationOverride"))
        change.ignored_fields = [name for name in IGNORED_FIELDS if name in body]
    return change


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


def recipients(value, field: str = "recipients", tolerant: bool = False) -> list | None:
    """[{"id": "bsmith", "recipientType": "PERSON"|"GROUP"|"DEVICE"}]; the type defaults to PERSON.

    ``tolerant``: bare names, ``targetName``, and types Klaxon does not know (reported unresolved).
    """
    items = _spelt_out(value, field, "recipientType", names=tolerant)
    return checked(validation.recipients, items, field, tolerant=tolerant)


def response_options(value, field: str = "responseOptions", picks: bool = False) -> list | None:
    """[{"text": "Acknowledge", "action": "STOP_NOTIFYING_USER", "description": "..."}].

    ``picks``: an entry may pick one of the configuration's options by ``id`` or ``number``.
    """
    return checked(validation.response_options, _spelt_out(value, field, "action"), field, picks=picks)


def expiration_minutes(value, field: str = "expirationInMinutes") -> int | None:
    """A whole number of minutes from 1 to 525600 (a year); true/false are not numbers."""
    return checked(validation.integer, value, field, minimum=1, maximum=MAX_EXPIRATION_MINUTES,
                   message=f"must be a whole number of minutes from 1 to {MAX_EXPIRATION_MINUTES}")


def _spelt_out(value, field: str, kind: str, names: bool = False):
    """Each item must be an object (or, with ``names``, a bare "bsmith"); spaces around ``kind`` go."""
    if not isinstance(value, list):
        return value
    return [item if names and isinstance(item, str) else _stripped(item, f"{field}[{i}]", kind)
            for i, item in enumerate(value)]


def _stripped(item, field: str, kind: str) -> dict:
    item = expect_object(item, field)
    return {**item, kind: item[kind].strip()} if isinstance(item.get(kind), str) else item
