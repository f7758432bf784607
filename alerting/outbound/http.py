"""The one outbound HTTP client: update webhooks, flows' http_request steps and webhook devices.

Every caller sends through :func:`session` (one SSRF-guarded Session per process and allow-list,
so connections are reused) with :func:`user_agent`. :func:`post` never raises for network
trouble; it returns an :class:`Outcome` that says what happened in words the attempt log can
show (SPEC §4): a status code, a duration, an error class (``timeout``, ``connection_refused``,
``dns``, ``tls``, ``redirect``, ``http_status``, ``ssrf``, ``invalid_url``, ``connection_error``)
and at most 64 KiB of the response body.
"""
from __future__ import annotations

import functools
import json
import socket
import ssl
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from importlib import metadata
from typing import Any
from urllib.parse import urlsplit

import requests
from flask import current_app, has_app_context
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import NameResolutionError
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.util import Timeout

from alerting.outbound.ssrf import SafeHTTPAdapter, UnsafeURL

MAX_BODY_BYTES = 64 * 1024
CHUNK_BYTES = 8192
RETRY_AFTER_STATUSES = (429, 502, 503, 504)
POOL_CONNECTIONS = 64
POOL_MAXSIZE = 32
_sessions: dict = {}


@dataclass
class Outcome:
    """What came of one request. ``ok`` means a 2xx; ``headers`` has lower-case names.

    ``body`` is at most 64 KiB, decoded as UTF-8 with replacement; ``truncated`` says more was
    sent. ``json`` is the parsed body (None if empty, cut or not JSON). ``retry_after`` is set
    only for 429/502/503/504.
    """

    ok: bool
    status_code: int | None = None
    duration_ms: int = 0
    error_class: str | None = None
    error: str | None = None
    body: str = ""
    retry_after: float | None = None
    headers: dict = field(default_factory=dict)
    json: Any = None
    truncated: bool = False


def new_session(allow_cidrs, user_agent: str) -> requests.Session:
    """A Session whose every connection goes through the SSRF guard, with a default User-Agent.

    Environment proxies and .netrc are ignored (``trust_env`` off): a proxy would defeat the check.
    """
    session = requests.Session()
    session.trust_env = False
    adapter = SafeHTTPAdapter(allow_cidrs, pool_connections=POOL_CONNECTIONS, pool_maxsize=POOL_MAXSIZE)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = user_agent
    return session


def user_agent() -> str:
    """``Klaxon/<version>``: the User-Agent of every outbound request (the app's KLAXON_VERSION)."""
    version = current_app.config.get("KLAXON_VERSION") if has_app_context() else None
    return f"Klaxon/{version or _package_version()}"


@functools.lru_cache(maxsize=1)  # reading package metadata costs more than the rest of a send
def _package_version() -> str:
    try:
        return metadata.version("klaxon")
    except metadata.PackageNotFoundError:
        return "0"


def session(allow_cidrs) -> requests.Session:
    """The process's one SSRF-guarded Session for ``allow_cidrs`` (KLAXON_WEBHOOK_ALLOW_CIDRS).

    Threads share it: requests' connection pools are thread-safe, and reusing them saves a TCP
    (and TLS) handshake per send. Two threads racing to make it keep the first one stored.
    """
    key = (tuple(allow_cidrs or ()), user_agent())
    found = _sessions.get(key)
    if found is None:
        found = _sessions.setdefault(key, new_session(*key))
    return found


def post(session: requests.Session, url: str, body: bytes, headers: dict, timeout: float = 10.0,
         method: str = "POST") -> Outcome:
    """Send ``body`` to ``url`` once: no redirects followed, ``timeout`` seconds in all, 64 KiB read.

    The status must arrive within ``timeout`` seconds of the start; the body is then read until
    64 KiB or the same deadline, whichever comes first; a connection left mid-body is closed,
    one read to the end goes back to the pool.
    """
    started = time.monotonic()
    deadline = started + timeout
    try:
        response = session.request(method, url, data=body, headers=headers, allow_redirects=False, stream=True,
                                   # requests hands a urllib3 Timeout through unchanged (its total is the deadline)
                                   timeout=Timeout(connect=timeout, read=timeout, total=timeout))  # type: ignore[arg-type]
    except (requests.RequestException, Urllib3Error, OSError, ValueError) as exc:
        kind = error_class(exc)
        return Outcome(ok=False, duration_ms=_ms_since(started), error_class=kind,
                       error=_describe(kind, exc, url, timeout))
    try:
        raw, truncated = _read_capped(response, deadline)
    finally:
        response.close()
    return _outcome(response, raw, truncated, started)


def _read_capped(response: requests.Response, deadline: float) -> tuple[bytes, bool]:
    """Up to MAX_BODY_BYTES of the body, stopping early at the deadline or on a broken stream.

    ``read1`` returns whatever one socket read brings, so a body that trickles in cannot hold
    the call past the deadline the way a read of a fixed size would.
    """
    data = bytearray()
    try:
        while len(data) <= MAX_BODY_BYTES:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            _set_read_timeout(response, remaining)
            chunk = response.raw.read1(CHUNK_BYTES, decode_content=True)
            if not chunk:
                break
            data += chunk
    except (requests.RequestException, Urllib3Error, OSError):
        pass  # the status already arrived: keep what was read
    return bytes(data[:MAX_BODY_BYTES]), len(data) > MAX_BODY_BYTES


def _set_read_timeout(response: requests.Response, seconds: float) -> None:
    """Make the next socket read wait no longer than the time left before the deadline."""
    sock = getattr(response.raw.connection, "sock", None)
    if sock is not None:
        sock.settimeout(max(0.01, seconds))


def _outcome(response: requests.Response, raw: bytes, truncated: bool, started: float) -> Outcome:
    status = response.status_code
    text = raw.decode("utf-8", errors="replace")
    outcome = Outcome(ok=200 <= status < 300, status_code=status, duration_ms=_ms_since(started), body=text,
                      headers={k.lower(): v for k, v in response.headers.items()}, truncated=truncated,
                      json=_json_or_none(text) if not truncated else None)
    if status in RETRY_AFTER_STATUSES:
        outcome.retry_after = parse_retry_after(response.headers.get("Retry-After"))
    if 300 <= status < 400:
        outcome.error_class = "redirect"
        outcome.error = f"HTTP {status} {response.reason or ''}".strip() + ": redirects are not followed"
    elif not outcome.ok:
        outcome.error_class = "http_status"
        outcome.error = f"HTTP {status} {response.reason or ''}".strip()
    return outcome


def _json_or_none(text: str) -> Any:
    if not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP date; None if unusable."""
    if not value or not value.strip():
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN or infinite
        return None
    return max(0.0, seconds)


def _causes(exc: BaseException):
    """The exception and everything it wraps (requests and urllib3 nest several levels)."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        item = stack.pop()
        if item is None or id(item) in seen or not isinstance(item, BaseException):
            continue
        seen.add(id(item))
        yield item
        stack += [getattr(item, "reason", None), item.__cause__, item.__context__]
        stack += [arg for arg in item.args if isinstance(arg, BaseException)]


def error_class(exc: BaseException) -> str:
    """Name the kind of failure: the words an attempt log shows."""
    chain = list(_causes(exc))
    rules = (
        ((UnsafeURL,), "ssrf"),
        ((requests.exceptions.InvalidURL, requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema,
          requests.exceptions.InvalidHeader, requests.exceptions.URLRequired), "invalid_url"),
        ((ConnectionRefusedError,), "connection_refused"),
        ((NameResolutionError, socket.gaierror), "dns"),
        ((requests.Timeout, Urllib3Timeout, TimeoutError), "timeout"),
        ((requests.exceptions.SSLError, ssl.SSLError, ssl.CertificateError), "tls"),
    )
    for types, name in rules:
        if any(isinstance(item, types) for item in chain):
            return name
    return "connection_error"


PHRASES = {"connection_refused": "connection refused", "dns": "host name not found", "tls": "TLS handshake failed",
           "invalid_url": "not a usable URL", "connection_error": "connection failed"}


def _describe(kind: str, exc: BaseException, url: str, timeout: float) -> str:
    """A human message naming only the host: the full URL may hold a token or credentials."""
    if kind == "ssrf":
        return next(str(item) for item in _causes(exc) if isinstance(item, UnsafeURL))
    phrase = f"timed out after {timeout:g}s" if kind == "timeout" else PHRASES[kind]
    return f"{phrase} ({host_of(url)})"


def host_of(url: str) -> str:
    """``host:port`` of ``url`` for an error message (never the path or query, which may hold a token)."""
    try:
        parts = urlsplit(url)
        return f"{parts.hostname}:{parts.port}" if parts.port else str(parts.hostname)
    except ValueError:
        return "bad URL"


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
