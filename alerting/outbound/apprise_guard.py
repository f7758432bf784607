"""Every address Apprise connects to is checked against the SSRF rule, while it sends.

Apprise opens its connections itself (``requests`` for HTTP services, ``smtplib`` for mailto://,
others for other protocols), follows HTTP redirects, and connects to hosts a URL names anywhere
(``?smtp=``). Checking the URL before the send cannot see a redirect's target, nor a name that
resolves differently a moment later. So while an Apprise device is notified (inside
:func:`guarded`), every name resolved in that context — in this thread and in the worker
threads Apprise starts, which run in a copy of the caller's context — has each address it
resolved to checked by :func:`alerting.outbound.ssrf.check_address`; a refused address fails
the resolution (an ``OSError``, which the libraries report as a failed connection) before any
connection is made, and the connection goes to an address that was just checked.

The hook is one wrapper around ``socket.getaddrinfo``, installed the first time a device is
notified; outside :func:`guarded` it passes every call straight through.
"""
from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from alerting.outbound.ssrf import UnsafeURL, check_address


class RefusedAddress(OSError):
    """A name resolved while Apprise sends points at an address Klaxon does not connect to."""


class Guard:
    """The allow-list of one send, and what it refused (the first refusal is the reason shown)."""

    def __init__(self, allow_cidrs):
        self.allow_cidrs = tuple(allow_cidrs or ())
        self.refused: list[str] = []


_GUARD: ContextVar[Guard | None] = ContextVar("klaxon_apprise_guard", default=None)
_resolve = socket.getaddrinfo


def _checked_getaddrinfo(host, port, *args, **kwargs):
    infos = _resolve(host, port, *args, **kwargs)
    guard = _GUARD.get()
    if guard is None:
        return infos
    name = host.decode() if isinstance(host, bytes) else str(host)
    for info in infos:
        try:
            check_address(str(info[4][0]), guard.allow_cidrs, name)
        except UnsafeURL as exc:
            guard.refused.append(str(exc))
            raise RefusedAddress(str(exc)) from None
    return infos


@contextmanager
def guarded(allow_cidrs) -> Iterator[Guard]:
    """Within the block, every name resolved in this context must give only allowed addresses."""
    if socket.getaddrinfo is not _checked_getaddrinfo:
        socket.getaddrinfo = _checked_getaddrinfo
    guard = Guard(allow_cidrs)
    token = _GUARD.set(guard)
    try:
        yield guard
    finally:
        _GUARD.reset(token)
