"""Transports: one class per device kind, each with ``send(target, msg) -> delivery note``.

A transport either returns a short note of what the far end said ("250 OK", "HTTP 200")
or raises :class:`TransportError`; ``permanent=True`` means retrying cannot help.
"""
from __future__ import annotations

from urllib.parse import urlsplit


class TransportError(Exception):
    """Sending failed; ``message`` says why (never a secret), ``permanent`` says not to retry."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.message = message
        self.permanent = permanent


def setting(settings, name: str, default=None):
    """Read one setting from a Settings object or a plain dict."""
    if isinstance(settings, dict):
        return settings.get(name, default)
    return getattr(settings, name, default)


# The transport modules import TransportError from here, so they are imported after it.
from .apprise_device import AppriseTransport, apprise_understands  # noqa: E402
from .email import EmailTransport  # noqa: E402
from .webhook_device import WebhookTransport  # noqa: E402

TRANSPORTS = {"email": EmailTransport, "webhook": WebhookTransport, "apprise": AppriseTransport}


def transport_for(kind: str, settings, **kwargs):
    """Build the transport for a device kind from Klaxon's settings (an object or a dict)."""
    try:
        cls = TRANSPORTS[kind]
    except KeyError:
        raise ValueError(f"kind: unknown device kind {kind!r}; use email, webhook or apprise") from None
    return cls.from_settings(settings, **kwargs)


def validate_target(kind: str, target, allow_cidrs=None) -> None:
    """Check a device target before it is saved; raise ValueError whose message names ``target``.

    With ``allow_cidrs`` given, webhook and Apprise targets also pass the SSRF guard.
    """
    if kind not in TRANSPORTS:
        raise ValueError(f"kind: unknown device kind {kind!r}; use email, webhook or apprise")
    if not isinstance(target, str) or not target.strip():
        raise ValueError("target: is required")
    if kind == "email":
        _validate_email(target)
    elif kind == "webhook":
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("target: a webhook device needs an http:// or https:// URL")
        if allow_cidrs is not None:
            _guard("apprise", target, allow_cidrs)
    elif not apprise_understands(target):
        raise ValueError("target: Apprise does not understand this URL; see the Apprise wiki for its URL forms")
    elif allow_cidrs is not None:
        _guard("apprise", target, allow_cidrs)


def _guard(check, target, allow_cidrs) -> None:
    from ..ssrf import UnsafeURL

    check = {"url": "check_url", "apprise": "check_apprise_url"}[check]
    from .. import ssrf

    try:
        check = getattr(ssrf, check)
        check(target, allow_cidrs)
    except UnsafeURL as exc:
        raise ValueError("target: " + str(exc).removeprefix("url: ")) from None


def _validate_email(target: str) -> None:
    from email_validator import EmailNotValidError, validate_email

    try:
        validate_email(target, check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(f"target: not an email address: {exc}") from None
