"""PagerDuty Events API v2 (the body of POST /v2/enqueue): trigger, acknowledge and resolve by dedup_key.

A sender written for PagerDuty keeps working: the ``dedup_key`` it sends (or the one Klaxon makes
for a trigger without one, returned in the success body) is the alert's key, unprefixed, so its
later acknowledge and resolve find the alert. Errors use PagerDuty's own 400 body.

Properties of a trigger, in this order: ``source``, ``component``, ``group``, ``class`` (when
given), then each key of ``custom_details`` (one level; nested values stay JSON values; a key
already taken becomes ``custom_details.<key>``). A ``custom_details`` that is not an object is
kept whole as ``custom_details``. Subject: ``summary``. Priority from ``severity``.
"""
from __future__ import annotations

import uuid

from alerting.sources.base import AlertChange, SourceError, expect_object, optional_text, put_property, required_text

EVENT_ACTIONS = ("trigger", "acknowledge", "resolve")
SEVERITY_PRIORITY = {"critical": "HIGH", "error": "HIGH", "warning": "MEDIUM", "info": "LOW"}
PROPERTY_FIELDS = ("source", "component", "group", "class")
MAX_SUMMARY = 1024
MAX_DEDUP_KEY = 255


def parse(payload) -> list[AlertChange]:
    """Parse a PagerDuty Events v2 body into one change; a trigger without dedup_key gets None."""
    body = expect_object(payload, "body")
    optional_text(body.get("routing_key"), "routing_key")  # its value is the caller's to check
    action = body.get("event_action")
    if action not in EVENT_ACTIONS:
        raise SourceError("event_action", "must be one of " + ", ".join(EVENT_ACTIONS))
    dedup_key = optional_text(body.get("dedup_key"), "dedup_key", max_len=MAX_DEDUP_KEY)
    if action != "trigger":
        if dedup_key is None:
            raise SourceError("dedup_key", f"is required to {action} an alert")
        return [AlertChange(action=action, dedup_key=dedup_key, raw_status=action)]
    return [_trigger(expect_object(body.get("payload"), "payload"), dedup_key)]


def _trigger(event: dict, dedup_key: str | None) -> AlertChange:
    summary = required_text(event.get("summary"), "payload.summary", max_len=MAX_SUMMARY)
    required_text(event.get("source"), "payload.source")
    severity = event.get("severity")
    if not isinstance(severity, str) or severity not in SEVERITY_PRIORITY:
        raise SourceError("payload.severity", "must be one of " + ", ".join(SEVERITY_PRIORITY))
    optional_text(event.get("timestamp"), "payload.timestamp")
    properties = {}
    for name in PROPERTY_FIELDS:
        value = optional_text(event.get(name), f"payload.{name}")
        if value is not None:
            properties[name] = value
    details = event.get("custom_details")
    if isinstance(details, dict):
        for key, value in details.items():
            put_property(properties, key, value, "custom_details")
    elif details is not None:
        properties["custom_details"] = details
    return AlertChange(action="trigger", dedup_key=dedup_key, subject=summary,
                       priority=SEVERITY_PRIORITY[severity], properties=properties, raw_status="trigger")


def pagerduty_error_body(err) -> dict:
    """PagerDuty's 400 body for a SourceError (or its message), so PagerDuty clients show it as usual."""
    return {"status": "invalid event", "message": "Event object is invalid", "errors": [str(err)]}


def pagerduty_success_body(dedup_key: str | None) -> dict:
    """PagerDuty's 202 body, carrying the key the sender uses to acknowledge or resolve later."""
    return {"status": "success", "message": "Event processed", "dedup_key": dedup_key}


def with_dedup_key(change: AlertChange) -> AlertChange:
    """A trigger sent without ``dedup_key`` gets a new one, as PagerDuty makes, so the sender can resolve it."""
    if change.dedup_key is None:
        change.dedup_key = uuid.uuid4().hex
    return change
