"""Apprise devices: any Apprise URL (Slack, Teams, Discord, Telegram, ntfy, Pushover, Matrix, …).

Apprise URLs usually hold tokens. Klaxon never logs them, and a filter on Apprise's own logger
drops its debug lines (which print whole URLs) and masks URLs in the lines it keeps.

``apprise`` itself (~30 ms of imports, and more when its plugins load) is imported where a URL
is checked or sent, not with this module: the web workers and most processes never need it.
"""
from __future__ import annotations

import logging
import re
import threading
from contextlib import contextmanager, nullcontext
from typing import TYPE_CHECKING

from alerting.notifications.messages import Message, apprise_body
from alerting.notifications.transports import TransportError, setting
from alerting.outbound.apprise_guard import guarded
from alerting.outbound.ssrf import UnsafeURL, check_apprise_url

if TYPE_CHECKING:
    import apprise

# Priority -> the name of an apprise.NotifyType member (looked up when sending; MEDIUM for the rest).
NOTIFY_TYPES = {"HIGH": "FAILURE", "MEDIUM": "WARNING", "LOW": "INFO"}
_URL = re.compile(r"\b([a-zA-Z][a-zA-Z0-9+.-]*)://[^\s'\"<>]+")


class _HideAppriseUrls(logging.Filter):
    """Keeps device URLs out of the ``apprise`` logger's records."""

    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()
        self.targets: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.INFO:
            return False
        record.msg, record.args = self.redact(record.getMessage()), None
        return True

    def redact(self, text: str) -> str:
        """Mask every URL, and any device URL being handled, in ``text``."""
        with self.lock:
            targets = list(self.targets)
        for target in targets:
            text = text.replace(target, "****")
        return _URL.sub(lambda m: m.group(1) + "://****", text)

    @contextmanager
    def hiding(self, target: str):
        """While the block runs, mask ``target`` even where Apprise logs it without a scheme."""
        with self.lock:
            self.targets.append(target)
        try:
            yield
        finally:
            with self.lock:
                self.targets.remove(target)


_filter = _HideAppriseUrls()


def _install_filter() -> None:
    logger = logging.getLogger("apprise")
    if _filter not in logger.filters:
        logger.addFilter(_filter)


def _loaded(target: str) -> apprise.Apprise | None:
    import apprise

    _install_filter()
    client = apprise.Apprise(asset=apprise.AppriseAsset(secure_logging=True))
    with _filter.hiding(target):
        return client if client.add(target) else None


def apprise_understands(target: str) -> bool:
    """True when Apprise can build a notification service from ``target``."""
    return _loaded(target) is not None


def _failure_reason(result) -> str:
    # Apprise 2.x returns a result with its warnings; 1.x returns a plain bool.
    status = getattr(getattr(result, "status", None), "name", None)
    lines = [entry.message for service in getattr(result, "results", ()) for attempt in service
             for entry in attempt.logs if entry.level in ("WARNING", "ERROR")]
    reason = lines[-1] if lines else (status or "notification failed").lower()
    return _filter.redact(" ".join(reason.split()))[:300]


class AppriseTransport:
    """Notifies apprise devices through the Apprise library."""

    def __init__(self, allow_cidrs=None):
        self.allow_cidrs = allow_cidrs

    @classmethod
    def from_settings(cls, settings, **kwargs):
        """Build from Klaxon's settings: Apprise connects by itself, so it needs the SSRF allow-list."""
        return cls(allow_cidrs=setting(settings, "webhook_allow_cidrs") or (), **kwargs)

    def send(self, target: str, msg: Message) -> str:
        """Notify the Apprise URL ``target``; return a short note or raise TransportError."""
        import apprise

        client = _loaded(target)
        if client is None:
            raise TransportError("apprise: URL not understood", permanent=True)
        if self.allow_cidrs is not None:
            try:
                check_apprise_url(target, self.allow_cidrs)
            except UnsafeURL as exc:
                raise TransportError(f"apprise: {str(exc).removeprefix('url: ')}", permanent=True) from None
        service = client[0].service_name
        title, body = apprise_body(msg)
        # every address Apprise resolves while sending (redirects, ?smtp= hosts …) is checked too
        checking = guarded(self.allow_cidrs) if self.allow_cidrs is not None else nullcontext(None)
        with _filter.hiding(target), checking as guard:
            result = client.notify(body=body, title=title, body_format=apprise.NotifyFormat.TEXT,
                                   notify_type=getattr(apprise.NotifyType, NOTIFY_TYPES.get(msg.priority, "WARNING")))
        if guard is not None and guard.refused:
            raise TransportError(f"apprise: {guard.refused[0].removeprefix('url: ')}", permanent=True)
        if not result:
            raise TransportError(f"apprise: {service}: {_failure_reason(result)}")
        return f"{service}: sent"
