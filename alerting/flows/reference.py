"""What a flow's templates can read (SPEC §5), for the field reference beside the dashboard's editor.

Kept beside the code that builds these values (``steps.alert_json``, ``triggers.describe`` and
``triggers.sample_trigger``); tests/test_flow_reference.py checks that the two agree.
"""
from __future__ import annotations

ALERT_FIELDS = (
    ("alertId", "the alert's uuid"),
    ("eventIdentifier", "its number, as in the dashboard (#869000)"),
    ("status", "ACTIVE, SUSPENDED, TERMINATED or TERMINATED_EXTERNAL"),
    ("priority", "HIGH, MEDIUM or LOW"),
    ("subject", "the subject line"),
    ("message", "the message text"),
    ("properties", "the alert's properties by name, e.g. alert.properties.Host"),
    ("dedupKey", "the deduplication key, or none"),
    ("configuration", "the uuid of the alert's configuration"),
)

# Every trigger also has ``type`` and ``depth``; a test run adds ``test``.
COMMON_TRIGGER_FIELDS = (
    ("type", "the trigger type, e.g. alert.created"),
    ("depth", "how many flows deep the event came (0 unless a flow made the alert)"),
    ("test", "true in a run started by “Run with a sample alert” or “Run on this alert”"),
)
TRIGGER_FIELDS = {
    "alert.created": (
        ("username", "who created it: token:<name>, integration:<configuration>, a person's username, or none"),
    ),
    "alert.status": (
        ("status", "the new status: ACTIVE, SUSPENDED, TERMINATED or TERMINATED_EXTERNAL"),
        ("username", "who changed it (klaxon for expiry and maintenance)"),
    ),
    "notification.delivery": (
        ("recipient", "the username notified"),
        ("device", "the device's name, e.g. Work Email"),
        ("deviceId", "the device's number"),
        ("deliveryStatus", "Delivered or Failed"),
        ("message", "the delivery result, e.g. Notification delivered, or the error"),
    ),
    "alert.response": (
        ("recipient", "the username who responded"),
        ("device", "the device they responded from, or none (the dashboard)"),
        ("response", "the response option's text, e.g. Acknowledge"),
        ("action", "what the option does: RECORD_RESPONSE, END, ESCALATE, …"),
        ("annotation", "the comment given with the response, or none"),
    ),
}

STEP_RESULT_FIELDS = (
    ("status", "an http_request's HTTP status code; else the step's status (succeeded, skipped)"),
    ("json", "the reply parsed as JSON (http_request); else the step's output"),
    ("body", "the reply as text (http_request only)"),
    ("headers", "the reply's headers (http_request only)"),
    ("output", "what the run record shows for the step"),
)

STEP_KINDS = {
    "http_request": "HTTP request",
    "create_alert": "Create an alert",
    "update_alert": "Update this alert",
    "switch": "Branch (switch)",
}
