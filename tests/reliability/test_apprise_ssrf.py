"""Apprise devices under an allow-list that does NOT allow loopback: no connection reaches a
listener on 127.0.0.1 (or another refused address), however the URL names it.

The suite-wide allow-list is 127.0.0.0/8, so these tests build the transport and the save-time
check with their own allow-list (empty, or 127.0.0.2 only for the redirect) — what
``AppriseTransport.from_settings`` makes of ``KLAXON_WEBHOOK_ALLOW_CIDRS`` — and count the
connections real listeners on 127.0.0.1 accept.
"""
from __future__ import annotations

import ipaddress
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from alerting.notifications.messages import Message
from alerting.notifications.transports import TransportError, validate_target
from alerting.notifications.transports.apprise_device import AppriseTransport


class Listener:
    """A TCP port on ``host`` that counts the connections it accepts (and closes them)."""

    def __init__(self, host="127.0.0.1"):
        self.sock = socket.create_server((host, 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.close()

    def close(self):
        self.stopping.set()
        self.thread.join(5)
        self.sock.close()


@pytest.fixture
def listener():
    listener = Listener()
    yield listener
    listener.close()


def message():
    return Message(subject_line="[HIGH] Klaxon: disk full", sender_name="Klaxon", subject="disk full", body="now",
                   priority="HIGH", event_identifier=1, alert_id="a1", recipient="bsmith", device_name="Chat")


def send(target, allow_cidrs=()):
    transport = AppriseTransport(allow_cidrs=[ipaddress.ip_network(c) for c in allow_cidrs])
    with pytest.raises(TransportError) as refused:
        transport.send(target, message())
    return str(refused.value)


@pytest.mark.parametrize("host", ["127.0.0.1.", "LOCALHOST.", "LocalHost"])
def test_a_loopback_host_however_written_is_refused_and_never_connected(listener, host):
    target = f"json://{host}:{listener.port}/hook"
    with pytest.raises(ValueError, match="loopback"):
        validate_target("apprise", target, allow_cidrs=())
    reason = send(target)
    assert "loopback" in reason, reason
    assert listener.connections == 0


def test_a_mailto_smtp_parameter_naming_loopback_is_refused_and_never_connected(listener):
    target = f"mailto://klaxon:secret@nonexistent.invalid:{listener.port}?smtp=127.0.0.1&to=ops@example.com"
    with pytest.raises(ValueError, match=r"127\.0\.0\.1 is a loopback"):
        validate_target("apprise", target, allow_cidrs=())
    reason = send(target)
    assert "loopback" in reason, reason
    assert listener.connections == 0


class Redirector(BaseHTTPRequestHandler):
    location = ""

    def do_POST(self):
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.send_header("Location", self.server.location)  # type: ignore[attr-defined]
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.mark.parametrize("status", [302, 307])
def test_a_redirect_to_a_refused_address_is_not_followed(listener, status):
    server = ThreadingHTTPServer(("127.0.0.2", 0), Redirector)
    server.status, server.location = status, f"http://127.0.0.1:{listener.port}/inside"  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        reason = send(f"json://127.0.0.2:{server.server_address[1]}/hook", allow_cidrs=["127.0.0.2/32"])
    finally:
        server.shutdown()
        server.server_close()
    assert "127.0.0.1" in reason and "loopback" in reason, reason
    assert listener.connections == 0


def test_every_host_an_apprise_url_names_is_found_normalised():
    from alerting.outbound.ssrf import hosts_named, normal_host

    url = ("mailto://u:p@Mail.Example.COM.?smtp=SMTP.internal.&to=a@b.example,c@D.example&from=x@y.example"
           "&avatar_url=https://img.example./a.png&priority=5&format=text")
    assert hosts_named(url) == ["mail.example.com", "smtp.internal", "b.example", "d.example", "y.example",
                                "img.example"]
    assert normal_host("[::1]") == "::1" and normal_host("bücher.example.") == "xn--bcher-kva.example"
