"""Webhook devices: the message as a JSON POST to the device's URL.

The HTTP call is a plain callable ``post(url, body_bytes, headers) -> outcome`` so a guarded
client (SSRF checks at connect time) can replace the default one, which uses requests.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import metadata

import requests

from ..http import host_of
from ..messages import Message, webhook_device_body
from . import TransportError

DEFAULT_TIMEOUT = 10.0
# Outcomes a retry cannot change: the URL itself is unusable or not allowed.
PERMANENT_ERROR_CLASSES = {"invalid_url", "unsafe_url", "blocked", "ssrf"}
PERMANENT_REDIRECTS = {301, 308}
ERROR_PHRASES = {"invalid_url": "not a usable URL", "tls": "TLS handshake failed",
                 "connection_refused": "connection refused", "dns": "host name not found",
                 "connection": "connection failed"}


@functools.lru_cache(maxsize=1)  # reading package metadata costs more than the rest of a send
def _user_agent() -> str:
    try:
        return f"Klaxon/{metadata.version('klaxon')}"
    except metadata.PackageNotFoundError:
        return "Klaxon"


@dataclass
class PostOutcome:
    """What came of one POST: ``ok`` for a 2xx, else a status code or an error class and text."""

    ok: bool
    status_code: int | None = None
    error_class: str | None = None
    error: str | None = None


def _error_class(exc: requests.RequestException) -> str:
    text = str(exc)
    if isinstance(exc, requests.Timeout):
        return "timeout"
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                        requests.exceptions.InvalidSchema)):
        return "invalid_url"
    if isinstance(exc, requests.exceptions.SSLError):
        return "tls"
    if "Connection refused" in text:
        return "connection_refused"
    if "NameResolutionError" in text or "Failed to resolve" in text or "Name or service not known" in text:
        return "dns"
    return "connection"


def requests_post(url: str, body: bytes, headers: dict, timeout: float = DEFAULT_TIMEOUT) -> PostOutcome:
    """POST with requests: no redirects followed, the response body left unread."""
    try:
        with requests.post(url, data=body, headers=headers, timeout=timeout,
                           allow_redirects=False, stream=True) as response:
            ok = 200 <= response.status_code < 300
            return PostOutcome(ok=ok, status_code=response.status_code,
                               error=None if ok else f"HTTP {response.status_code} {response.reason or ''}".strip())
    except requests.RequestException as exc:
        # requests' own text repeats the whole URL, which may hold a token, so only the host is named.
        kind = _error_class(exc)
        phrase = f"timed out after {timeout:g}s" if kind == "timeout" else ERROR_PHRASES[kind]
        return PostOutcome(ok=False, error_class=kind, error=f"{phrase} ({host_of(url)})")


def _is_permanent(outcome) -> bool:
    status = outcome.status_code
    if status is not None:
        return status in PERMANENT_REDIRECTS or (400 <= status < 500 and status not in (408, 429))
    return outcome.error_class in PERMANENT_ERROR_CLASSES


class WebhookTransport:
    """POSTs :func:`webhook_device_body` as JSON to a webhook device's URL."""

    def __init__(self, post=None, timeout: float = DEFAULT_TIMEOUT):
        self.post = post or (lambda url, body, headers: requests_post(url, body, headers, timeout))

    @classmethod
    def from_settings(cls, settings, **kwargs):
        """Build from Klaxon's settings; pass ``post=`` to use a guarded HTTP client."""
        return cls(**kwargs)

    def send(self, target: str, msg: Message) -> str:
        """POST the message to ``target``; return ``HTTP <status>`` or raise TransportError."""
        body = json.dumps(webhook_device_body(msg), ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json", "User-Agent": _user_agent(),
                   "X-Klaxon-Event": str(msg.event_identifier)}
        outcome = self.post(target, body, headers)
        if outcome.ok:
            return f"HTTP {outcome.status_code}"
        detail = outcome.error or (f"HTTP {outcome.status_code}" if outcome.status_code else outcome.error_class)
        if outcome.status_code is not None and 300 <= outcome.status_code < 400:
            detail = f"{detail} (redirects are not followed)"
        raise TransportError(f"webhook: {detail}", permanent=_is_permanent(outcome))
