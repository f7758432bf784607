"""Transports: one class per device kind, each with ``send(target, msg) -> delivery note``.

A transport either returns a short note of what the far end said ("250 OK", "HTTP 200")
or raises :class:`TransportError`; ``permanent=True`` means retrying cannot help.
"""
from __future__ import annotations

from urllib.parse import urlsplit

from alerting.outbound.ssrf import UnsafeURL, check_apprise_url, check_url_for_save


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
from alerting.notifications.transports.apprise_device import AppriseTransport, apprise_understands  # noqa: E402
from alerting.notifications.transports.email import EmailTransport  # noqa: E402
from alerting.notifications.transports.webhook_device import WebhookTransport  # noqa: E402

TRANSPORTS: dict[str, type[EmailTransport] | type[WebhookTransport] | type[AppriseTransport]] = {
    "email": EmailTransport, "webhook": WebhookTransport, "apprise": AppriseTransport}


def transport_for(kind: str, settings, **kwargs):
    """Build the transport for a device kind from Klaxon's settings (an object or a dict)."""
    try:
        cls = TRANSPORTS[kind]
    except KeyError:
        raise ValueError(f"kind: unknown device kind {kind!r}; use email, webhook or apprise") from None
    return cls.from_settings(settings, **kwargs)


def validate_target(kind: str, target, allow_cidrs=None) -> None:
    """Check a device target before it is saved; raise ValueError whose message names ``target``.

    With ``allow_cidrs`` given (the caller leaves it out for a target that did not change), a
    webhook URL passes the save-time check every outbound URL passes (it must resolve to an
    allowed address), and an Apprise URL the lenient one (its "host" is often a token).
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
            check_url_for_save(target, allow_cidrs, "target")
    elif not apprise_understands(target):
        raise ValueError("target: Apprise does not understand this URL; see the Apprise wiki for its URL forms")
    elif allow_cidrs is not None:
        try:
            check_apprise_url(target, allow_cidrs)
        except UnsafeURL as exc:
            raise ValueError("target: " + str(exc).removeprefix("url: ")) from None


# Internal mail domains are common in self-hosted setups: email-validator refuses special-use names,
# so "local" and "localhost" come off its list (its documented way) and "test" passes as a test
# environment; "invalid", "onion" and "arpa" stay refused. Syntax checks are unchanged.
INTERNAL_MAIL_DOMAINS = ("local", "localhost")


def _validate_email(target: str) -> None:
    import email_validator

    email_validator.SPECIAL_USE_DOMAIN_NAMES[:] = [
        name for name in email_validator.SPECIAL_USE_DOMAIN_NAMES if name not in INTERNAL_MAIL_DOMAINS]
    try:
        email_validator.validate_email(target, check_deliverability=False, globally_deliverable=False,
                                       test_environment=True)
    except email_validator.EmailNotValidError as exc:
        raise ValueError(f"target: not an email address: {exc}") from None
