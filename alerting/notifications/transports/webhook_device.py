"""Webhook devices: the message as a JSON POST to the device's URL.

The POST goes through the one outbound client (alerting.outbound.http): the process's shared,
SSRF-guarded session for KLAXON_WEBHOOK_ALLOW_CIDRS, no redirects followed, one deadline.
"""
from __future__ import annotations

import json

from alerting.notifications.messages import Message, webhook_device_body
from alerting.notifications.transports import TransportError, setting
from alerting.outbound import http

DEFAULT_TIMEOUT = 10.0
# Outcomes a retry cannot change: the URL itself is unusable or not allowed.
PERMANENT_ERROR_CLASSES = {"invalid_url", "ssrf"}
PERMANENT_REDIRECTS = {301, 308}


def _is_permanent(outcome: http.Outcome) -> bool:
    status = outcome.status_code
    if status is not None:
        return status in PERMANENT_REDIRECTS or (400 <= status < 500 and status not in (408, 429))
    return outcome.error_class in PERMANENT_ERROR_CLASSES


class WebhookTransport:
    """POSTs :func:`webhook_device_body` as JSON to a webhook device's URL."""

    def __init__(self, allow_cidrs=(), timeout: float = DEFAULT_TIMEOUT):
        self.allow_cidrs = tuple(allow_cidrs or ())
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings, **kwargs):
        """Build from Klaxon's settings: connections are checked against KLAXON_WEBHOOK_ALLOW_CIDRS."""
        return cls(allow_cidrs=setting(settings, "webhook_allow_cidrs") or (), **kwargs)

    def send(self, target: str, msg: Message) -> str:
        """POST the message to ``target``; return ``HTTP <status>`` or raise TransportError."""
        body = json.dumps(webhook_device_body(msg), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json", "User-Agent": http.user_agent(),
                   "X-Klaxon-Event": msg.event_header}
        outcome = http.post(http.session(self.allow_cidrs), target, body, headers, timeout=self.timeout)
        if outcome.ok:
            return f"HTTP {outcome.status_code}"
        detail = outcome.error or (f"HTTP {outcome.status_code}" if outcome.status_code else outcome.error_class)
        if outcome.status_code is not None and 300 <= outcome.status_code < 400 and "redirect" not in (detail or ""):
            detail = f"{detail} (redirects are not followed)"
        raise TransportError(f"webhook: {detail}", permanent=_is_permanent(outcome))
