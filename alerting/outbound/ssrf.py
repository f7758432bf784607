"""SSRF guard for outbound HTTP (SPEC §4): update webhooks, flows' http_request, webhook devices.

A target is checked twice. At save time :func:`check_url_for_save` (the one check that update
URLs, webhook devices and flows' http_request steps share, run only for a URL that changed)
resolves the host and refuses it if it does not resolve or if any address is loopback, private,
link-local, multicast, reserved, unspecified, shared (CGNAT 100.64/10) or a cloud metadata
address, unless ``KLAXON_WEBHOOK_ALLOW_CIDRS`` allows it. At
connect time :class:`SafeHTTPAdapter` resolves the host once, checks the addresses the same way
and connects to exactly the address it checked, so a DNS answer that changes between the check
and the connect (DNS rebinding) cannot send the request anywhere else. The Host header, TLS SNI
and certificate verification keep using the host name from the URL. Those connections also
hold each response (status line, headers and body) to one read deadline, so a receiver that
trickles bytes cannot keep a worker past the timeout.
"""
from __future__ import annotations

import http.client
import io
import ipaddress
import re
import socket
import time
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
from urllib3.util import connection as urllib3_connection

from alerting.errors import FieldError

SETTING = "KLAXON_WEBHOOK_ALLOW_CIDRS"
METADATA_ADDRESSES = {ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")}
SHARED_NETWORK = ipaddress.ip_network("100.64.0.0/10")
DEFAULT_PORTS = {"http": 80, "https": 443}


class UnsafeURL(ValueError):
    """A URL Klaxon will not post to; the message names the problem and starts with ``url:``."""


def _embedded_ipv4(ip) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (IPv4-mapped or 6to4), if any."""
    if ip.version != 6:
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip.sixtofour


def _kind(ip) -> str | None:
    """What kind of non-public address ``ip`` is, or None for a public one."""
    if ip.version == 6 and ip.ipv4_mapped is not None:  # ::ffff:a.b.c.d is a.b.c.d on a dual-stack socket
        return _kind(ip.ipv4_mapped)
    checks = (
        (ip in METADATA_ADDRESSES, "cloud metadata"),
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local"),
        (ip.is_multicast, "multicast"),
        (ip.version == 4 and ip in SHARED_NETWORK, "shared (CGNAT)"),
        (ip.is_private, "private"),
        (ip.is_reserved, "reserved"),
        (not ip.is_global, "non-public"),
    )
    for refused, name in checks:
        if refused:
            return name
    embedded = _embedded_ipv4(ip)
    return _kind(embedded) if embedded is not None else None


def _allowed(ip, allow_cidrs) -> bool:
    embedded = _embedded_ipv4(ip)
    return any(ip in net or (embedded is not None and embedded in net) for net in allow_cidrs or ())


def check_address(address: str, allow_cidrs, host: str | None = None) -> None:
    """Raise :class:`UnsafeURL` unless ``address`` is public or inside one of ``allow_cidrs``."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # drop an IPv6 zone id such as %eth0
    kind = _kind(ip)
    if kind is None or _allowed(ip, allow_cidrs):
        return
    shown = f"::ffff:{ip.ipv4_mapped}" if ip.version == 6 and ip.ipv4_mapped else str(ip)
    where = shown if host is None or _same_address(host, ip) else f"{host} resolves to {shown}, which"
    article = "an" if kind[0] in "aeiou" else "a"
    raise UnsafeURL(f"url: {where} is {article} {kind} address; allow it with {SETTING}")


def _same_address(host: str, ip) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")) == ip
    except ValueError:
        return False


def safe_addresses(host: str, port: int, allow_cidrs) -> list[str]:
    """Resolve ``host`` once and return its addresses, all checked; raise if any is refused.

    Raises socket.gaierror when the name does not resolve, UnsafeURL when an address is refused.
    """
    host = host.strip("[]")
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for address in addresses:
        check_address(address, allow_cidrs, host)
    return addresses


def check_url(url: str, allow_cidrs) -> None:
    """Save-time check of an outbound URL: http(s), a host, and only allowed addresses.

    Credentials in the URL are accepted but never appear in a message. Raises UnsafeURL.
    """
    try:
        parts = urlsplit((url or "").strip())
        port = parts.port
    except ValueError:
        raise UnsafeURL("url: is not a valid URL") from None
    if parts.scheme.lower() not in DEFAULT_PORTS:
        raise UnsafeURL(f"url: scheme {parts.scheme or '(none)'!r} is not allowed; use http or https")
    host = parts.hostname
    if not host:
        raise UnsafeURL("url: has no host")
    try:
        safe_addresses(host, port or DEFAULT_PORTS[parts.scheme.lower()], allow_cidrs)
    except (socket.gaierror, UnicodeError):
        raise UnsafeURL(f"url: host {host} does not resolve") from None


def check_url_for_save(url: str, allow_cidrs, field: str) -> None:
    """The save-time check of an outbound URL a user typed: raise FieldError naming ``field``.

    Callers run it only for a URL that changed: an unchanged one was checked when it was saved,
    and the connect-time guard checks it again on every send, so a host gone stale since then
    does not block saving another field.
    """
    try:
        check_url(url, allow_cidrs)
    except UnsafeURL as exc:
        raise FieldError(field, str(exc).removeprefix("url: ")) from None


class _DeadlineSocketIO(socket.SocketIO):
    """Socket reads that share one deadline, however the bytes trickle in."""

    def __init__(self, sock, deadline: float):
        super().__init__(sock, "rb")
        sock._io_refs += 1  # as socket.makefile does: the response keeps reading after the connection closes
        self.deadline = deadline

    def readinto(self, buffer):
        self._sock.settimeout(max(0.001, self.deadline - time.monotonic()))
        return super().readinto(buffer)


class _DeadlineHTTPResponse(http.client.HTTPResponse):
    """A response whose status line, headers and body must all arrive within the read timeout.

    A plain socket timeout applies to each read, so a server sending a byte a second never trips it.
    """

    def __init__(self, sock, *args, **kwargs):
        super().__init__(sock, *args, **kwargs)
        timeout = sock.gettimeout()
        if timeout:
            self.fp.close()
            self.fp = io.BufferedReader(_DeadlineSocketIO(sock, time.monotonic() + timeout))


# For the type checker the mixin is the urllib3 connection it is always mixed into.
if TYPE_CHECKING:
    _ConnectionBase = HTTPConnection
else:
    _ConnectionBase = object


class _PinnedConnectionMixin(_ConnectionBase):
    """A urllib3 connection that resolves once, checks, and connects to the checked address."""

    allow_cidrs: tuple = ()
    response_class = _DeadlineHTTPResponse

    def _new_conn(self) -> socket.socket:
        try:
            addresses = safe_addresses(self.host, self.port, self.allow_cidrs)
        except (socket.gaierror, UnicodeError) as exc:
            raise NameResolutionError(self.host, self, exc) from exc  # type: ignore[arg-type]
        error: Exception = NewConnectionError(self, f"Failed to establish a new connection: no address for {self.host}")
        for address in addresses:  # like socket.create_connection, but only over checked addresses
            try:
                return urllib3_connection.create_connection(
                    (address, self.port), self.timeout, source_address=self.source_address,
                    socket_options=self.socket_options)
            except TimeoutError as exc:
                error = ConnectTimeoutError(self, f"Connection to {self.host} timed out. "
                                                  f"(connect timeout={self.timeout})")
                error.__cause__ = exc
            except OSError as exc:
                error = NewConnectionError(self, f"Failed to establish a new connection: {exc}")
                error.__cause__ = exc
        raise error


def _pool_classes(allow_cidrs: tuple) -> dict:
    """urllib3 pool classes whose connections are pinned and checked against ``allow_cidrs``."""
    attrs = {"allow_cidrs": allow_cidrs}
    http_conn = type("SafeHTTPConnection", (_PinnedConnectionMixin, HTTPConnection), attrs)
    https_conn = type("SafeHTTPSConnection", (_PinnedConnectionMixin, HTTPSConnection), attrs)
    return {"http": type("SafeHTTPConnectionPool", (HTTPConnectionPool,), {"ConnectionCls": http_conn}),
            "https": type("SafeHTTPSConnectionPool", (HTTPSConnectionPool,), {"ConnectionCls": https_conn})}


class SafeHTTPAdapter(HTTPAdapter):
    """A requests adapter that checks every new connection's address against SSRF rules.

    Proxies are ignored: through a proxy the check would test the proxy, not the target.
    """

    __attrs__ = HTTPAdapter.__attrs__ + ["allow_cidrs"]

    def __init__(self, allow_cidrs=(), **kwargs):
        self.allow_cidrs = tuple(allow_cidrs or ())
        super().__init__(**kwargs)

    def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        self.poolmanager.pool_classes_by_scheme = _pool_classes(self.allow_cidrs)

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):
        return super().send(request, stream=stream, timeout=timeout, verify=verify, cert=cert, proxies=None)


def check_apprise_url(url: str, allow_cidrs) -> None:
    """Device targets: check every host an Apprise URL names, when it names one that resolves.

    That is the URL's own host and any host in its query (``?smtp=127.0.0.1``, ``?to=a@host``,
    a URL in a parameter), each as the resolver sees it (:func:`normal_host`: ``LOCALHOST.`` is
    ``localhost``). Apprise service URLs' "host" is often a token (slack://T000/B000/XXX) that
    does not resolve: those pass. Run at save time and before every send; while Apprise sends,
    ``alerting.outbound.apprise_guard`` also checks every address it actually resolves.
    """
    for host in hosts_named(url):
        try:
            check_address(str(ipaddress.ip_address(host)), allow_cidrs, host)
            continue
        except ValueError as exc:
            if isinstance(exc, UnsafeURL):
                raise
        try:
            safe_addresses(host, 0, allow_cidrs)
        except (socket.gaierror, UnicodeError):
            continue


# Query parameters whose whole value names a host (or hosts, or addresses at a host).
HOST_PARAMS = {"smtp", "host", "hostname", "server", "domain", "from", "to", "cc", "bcc", "reply", "url", "proxy"}


def normal_host(host: str) -> str:
    """A host as the resolver treats it: no brackets, trailing dots or case, in IDNA (ASCII) form."""
    host = host.strip().strip("[]").rstrip(".").lower()
    try:
        return host.encode("idna").decode("ascii") if host else host
    except UnicodeError:
        return host


def _host_in(item: str, whole: bool) -> str | None:
    """The host one query item names: a URL's host, an address's domain, or (``whole``) the item."""
    if "://" in item:
        try:
            return urlsplit(item).hostname
        except ValueError:
            return None
    if "@" in item:
        return item.rsplit("@", 1)[1]
    if not whole:
        return None
    host, _, port = item.rpartition(":")
    return host if host and port.isdigit() and host.count(":") == 0 else item


def hosts_named(url: str) -> list[str]:
    """Every host an Apprise URL names (its own and its query's), normalised, without duplicates."""
    try:
        parts = urlsplit(url)
        hosts = [parts.hostname or ""]
    except ValueError:
        return []
    for key, value in parse_qsl(parts.query):
        for item in re.split(r"[\s,;]+", value):
            hosts.append(_host_in(item, key.lower() in HOST_PARAMS) or "")
    return [h for h in dict.fromkeys(normal_host(h) for h in hosts) if h]
