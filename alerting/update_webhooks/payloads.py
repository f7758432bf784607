"""Update webhook bodies in xMatters' form (SPEC §4): status, delivery, response, comment,
escalation and recipient failure.

Pure functions over plain values, so the exact bytes are tested without a database. ``date`` is
UTC as ``yy-MM-dd HH:mm:ss.SSS``; ``eventProperties`` is a list of one-key objects in the order
the alert's properties were received (only the configuration's ``outboundProperties`` when it
lists them: the caller passes the properties already narrowed, see ``outbound``). ``subject`` and
``alertMessage`` are added only when the configuration asks for them (``include``).
"""
from __future__ import annotations

import json
from datetime import UTC, datetime

STATUSES = ("active", "suspended", "terminated", "terminated_external")
DELIVERED_MESSAGE = "Notification delivered"
FAILED_MESSAGE = "Notification failed"


def format_date(dt: datetime) -> str:
    """``17-04-12 23:01:51.328``: UTC (a naive datetime is taken as UTC), milliseconds truncated."""
    dt = dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)
    return f"{dt:%y-%m-%d %H:%M:%S}.{dt.microsecond // 1000:03d}"


def event_properties(props: dict | None) -> list:
    """``{"Host": "db-1", "Env": "prod"}`` -> ``[{"Host": "db-1"}, {"Env": "prod"}]``."""
    return [{name: value} for name, value in (props or {}).items()]


def outbound(props: dict | None, names: list[str] | None) -> dict:
    """The properties that go out: all of them, or only ``names`` (kept in the alert's order)."""
    props = props or {}
    if names is None:
        return dict(props)
    wanted = set(names)
    return {name: value for name, value in props.items() if name in wanted}


def _with_alert_text(payload: dict, include: bool, subject, alert_message) -> dict:
    if include:
        payload["subject"] = subject
        payload["alertMessage"] = alert_message
    return payload


def status_payload(event_identifier: int, status: str, username: str | None, when: datetime, properties: dict,
                   subject: str | None = None, alert_message: str | None = None, include: bool = False) -> dict:
    """An alert status update; ``status`` in any case, sent lower-case (``ACTIVE`` -> ``active``)."""
    status = status.lower()
    if status not in STATUSES:
        raise ValueError(f"status: expected one of {', '.join(STATUSES)}, got {status!r}")
    payload = {"eventIdentifier": event_identifier, "status": status, "username": username,
               "date": format_date(when), "eventProperties": event_properties(properties)}
    return _with_alert_text(payload, include, subject, alert_message)


def delivery_payload(event_identifier: int, recipient: str, device: str, device_id: int, delivered: bool,
                     message: str | None, when: datetime, properties: dict, subject: str | None = None,
                     alert_message: str | None = None, include: bool = False) -> dict:
    """A notification delivery update; on failure ``message`` is the error text."""
    payload = {
        "recipient": recipient, "device": device,
        "deliveryStatus": "Delivered" if delivered else "Failed", "deviceId": device_id,
        "eventType": "LIVE_NOTIFICATION_PROVIDER_DELIVERED" if delivered else "LIVE_NOTIFICATION_PROVIDER_FAILED",
        "message": message or (DELIVERED_MESSAGE if delivered else FAILED_MESSAGE),
        "eventIdentifier": event_identifier, "date": format_date(when),
        "eventProperties": event_properties(properties),
    }
    return _with_alert_text(payload, include, subject, alert_message)


def response_payload(event_identifier: int, recipient: str, device: str | None, response: str,
                     annotation: str | None, when: datetime, properties: dict, subject: str | None = None,
                     alert_message: str | None = None, include: bool = False) -> dict:
    """A response update: the option's text and the comment (``annotation``, or null)."""
    payload = {"eventIdentifier": event_identifier, "recipient": recipient, "device": device,
               "response": response, "annotation": annotation or None, "date": format_date(when),
               "eventProperties": event_properties(properties)}
    return _with_alert_text(payload, include, subject, alert_message)


def comment_payload(event_identifier: int, author: dict, comment: str, when: datetime, properties: dict,
                    subject: str | None = None, alert_message: str | None = None, include: bool = False) -> dict:
    """A comment update; ``author`` is ``{"username", "firstName", "lastName"}`` (names null when unknown)."""
    payload = {"eventIdentifier": event_identifier,
               "author": {"username": author.get("username"), "firstName": author.get("firstName"),
                          "lastName": author.get("lastName")},
               "comment": comment, "date": format_date(when), "eventProperties": event_properties(properties)}
    return _with_alert_text(payload, include, subject, alert_message)


def escalation_payload(event_identifier: int, group: str, shift: str | None, recipients: list[str], level: int,
                       when: datetime, properties: dict, subject: str | None = None,
                       alert_message: str | None = None, include: bool = False) -> dict:
    """An escalation update: the group, its shift (or null), who this step notified, and the step's level."""
    payload = {"eventIdentifier": event_identifier, "group": group, "shift": shift, "recipients": list(recipients),
               "level": level, "date": format_date(when), "eventProperties": event_properties(properties)}
    return _with_alert_text(payload, include, subject, alert_message)


def recipient_failure_payload(event_identifier: int, recipient: str, reason: str, when: datetime, properties: dict,
                              subject: str | None = None, alert_message: str | None = None,
                              include: bool = False) -> dict:
    """A targeted-recipient failure: the recipient as given and why it reached nobody."""
    payload = {"eventIdentifier": event_identifier, "recipient": recipient, "reason": reason,
               "date": format_date(when), "eventProperties": event_properties(properties)}
    return _with_alert_text(payload, include, subject, alert_message)


def encode(payload: dict) -> str:
    """The exact text that is signed and posted: compact JSON, UTF-8 characters kept as they are."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
