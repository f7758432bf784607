"""alerting.outbound.http.post against real receivers on 127.0.0.1: outcomes, limits and Retry-After."""
from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from alerting.outbound import http
from config import parse_cidrs
from tests.support import Receiver


@pytest.fixture
def session():
    with http.new_session(parse_cidrs("KLAXON_WEBHOOK_ALLOW_CIDRS", "127.0.0.0/8"), "Klaxon/test") as s:
        yield s


def test_a_2xx_is_ok_with_body_json_and_headers(session):
    with Receiver([(202, {"X-Trace": "abc"}, {"ticket": 42})]) as receiver:
        outcome = http.post(session, receiver.url + "/hook", b'{"a":1}', {"Content-Type": "application/json"})
    assert (outcome.ok, outcome.status_code, outcome.error_class, outcome.error) == (True, 202, None, None)
    assert outcome.json == {"ticket": 42} and outcome.body == '{"ticket": 42}'
    assert outcome.headers["x-trace"] == "abc"
    assert outcome.duration_ms >= 0 and outcome.retry_after is None
    sent = receiver.requests[0]
    assert (sent["method"], sent["path"], sent["body"]) == ("POST", "/hook", b'{"a":1}')
    assert sent["headers"]["User-Agent"] == "Klaxon/test"
    assert sent["headers"]["Content-Type"] == "application/json"


def test_it_sends_other_methods_for_flow_steps(session):
    with Receiver() as receiver:
        outcome = http.post(session, receiver.url + "/x", b"", {}, method="PUT")
    assert outcome.ok and receiver.requests[0]["method"] == "PUT"


def test_a_500_is_an_http_status_failure_with_its_body(session):
    with Receiver([(500, {}, b"database on fire")]) as receiver:
        outcome = http.post(session, receiver.url, b"{}", {})
    assert (outcome.ok, outcome.status_code, outcome.error_class) == (False, 500, "http_status")
    assert outcome.error == "HTTP 500 Internal Server Error"
    assert outcome.body == "database on fire" and outcome.json is None


def test_a_redirect_is_a_failure_and_is_not_followed(session):
    with Receiver() as target, Receiver([(301, {"Location": target.url + "/moved"}, b"")]) as redirector:
        outcome = http.post(session, redirector.url + "/old", b"{}", {})
        time.sleep(0.2)  # a followed redirect would have landed by now
    assert (outcome.ok, outcome.status_code, outcome.error_class) == (False, 301, "redirect")
    assert "redirects are not followed" in outcome.error
    assert len(redirector.requests) == 1 and target.requests == []


def test_a_receiver_slower_than_the_timeout_is_a_timeout(session):
    with Receiver(delay=10.0) as receiver:
        started = time.monotonic()
        outcome = http.post(session, receiver.url + "/slow", b"{}", {}, timeout=0.5)
        elapsed = time.monotonic() - started
    assert (outcome.ok, outcome.status_code, outcome.error_class) == (False, None, "timeout")
    assert outcome.error == f"timed out after 0.5s (127.0.0.1:{receiver.server.server_address[1]})"
    assert elapsed < 5  # generous for a loaded machine; without the deadline this waits the full 10 s


def test_a_closed_port_is_connection_refused(session):
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener now
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    outcome = http.post(session, f"http://127.0.0.1:{port}/hook", b"{}", {})
    assert (outcome.ok, outcome.error_class) == (False, "connection_refused")
    assert outcome.error == f"connection refused (127.0.0.1:{port})"


def test_an_unknown_host_is_dns(session):
    outcome = http.post(session, "http://no-such-host.invalid/hook", b"{}", {})
    assert (outcome.ok, outcome.error_class) == (False, "dns")


def test_a_non_http_url_is_invalid_and_never_raises(session):
    for url in ("ftp://127.0.0.1/x", "not a url", "http://"):
        outcome = http.post(session, url, b"{}", {})
        assert (outcome.ok, outcome.error_class) == (False, "invalid_url"), url


def test_errors_never_repeat_credentials_or_query_strings(session):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    outcome = http.post(session, f"http://user:s3cret@127.0.0.1:{port}/hook?token=t0ken", b"{}", {})
    assert "s3cret" not in outcome.error and "t0ken" not in outcome.error


def test_only_64_kib_of_a_huge_body_is_kept(session):
    huge = b"x" * (1024 * 1024)
    with Receiver([(200, {}, huge)]) as receiver:
        outcome = http.post(session, receiver.url, b"{}", {})
    assert outcome.ok
    assert len(outcome.body) == 65536 and outcome.truncated and outcome.json is None


def test_a_body_that_is_not_utf8_is_decoded_with_replacement(session):
    with Receiver([(400, {}, b"bad \xff byte")]) as receiver:
        outcome = http.post(session, receiver.url, b"{}", {})
    assert outcome.body == "bad \ufffd byte"


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_seconds_are_parsed_for_throttling_statuses(session, status):
    with Receiver([(status, {"Retry-After": "2"}, b"slow down")]) as receiver:
        outcome = http.post(session, receiver.url, b"{}", {})
    assert (outcome.ok, outcome.status_code, outcome.retry_after) == (False, status, 2.0)


def test_retry_after_as_an_http_date_is_parsed(session):
    later = datetime.now(UTC) + timedelta(seconds=120)
    with Receiver([(503, {"Retry-After": format_datetime(later, usegmt=True)}, b"")]) as receiver:
        outcome = http.post(session, receiver.url, b"{}", {})
    assert 100 <= outcome.retry_after <= 121


def test_retry_after_is_ignored_on_other_statuses(session):
    with Receiver([(500, {"Retry-After": "2"}, b"")]) as receiver:
        outcome = http.post(session, receiver.url, b"{}", {})
    assert outcome.retry_after is None


@pytest.mark.parametrize("value, seconds", [
    ("0", 0.0), (" 7 ", 7.0), ("-3", 0.0), ("soon", None), ("", None), (None, None), ("nan", None),
    ("Wed, 21 Oct 2015 07:28:00 GMT", 0.0),
])
def test_parse_retry_after_reads_seconds_and_dates(value, seconds):
    assert http.parse_retry_after(value) == seconds


def test_parse_retry_after_counts_from_now_for_dates():
    now = datetime(2015, 10, 21, 7, 27, 0, tzinfo=UTC)
    assert http.parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 60.0


def test_a_body_that_trickles_in_is_cut_at_the_deadline(session):
    """The status came in time, so it counts; the body read stops when the time is up."""
    with _Trickler(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n", b"xxxxx") as port:
        started = time.monotonic()
        outcome = http.post(session, f"http://127.0.0.1:{port}/", b"{}", {}, timeout=1.0)
        elapsed = time.monotonic() - started
    assert (outcome.ok, outcome.status_code) == (True, 200)
    assert 0 < len(outcome.body) < 100 and set(outcome.body) == {"x"}
    assert elapsed < 6  # generous for a loaded machine; without the deadline the trickle never ends


def test_headers_that_trickle_in_past_the_deadline_are_a_timeout(session):
    with _Trickler(b"HTTP/1.1 200 OK\r\n", b"X-Slow: yes\r\n") as port:
        started = time.monotonic()
        outcome = http.post(session, f"http://127.0.0.1:{port}/", b"{}", {}, timeout=1.0)
        elapsed = time.monotonic() - started
    assert (outcome.ok, outcome.status_code, outcome.error_class) == (False, None, "timeout")
    assert elapsed < 6  # generous for a loaded machine; without the deadline the trickle never ends


class _Trickler:
    """A server that answers ``head`` at once and then ``drip`` every 0.2 s until stopped."""

    def __init__(self, head: bytes, drip: bytes):
        self.head, self.drip, self.stop = head, drip, threading.Event()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        conn, _ = self.listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(self.head)
            while not self.stop.wait(0.2):
                try:
                    conn.sendall(self.drip)
                except OSError:
                    return

    def __enter__(self):
        self.thread.start()
        return self.listener.getsockname()[1]

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)
        self.listener.close()


def test_a_body_read_to_the_end_leaves_the_connection_for_the_next_call(session):
    client_ports = []

    class KeepAlive(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            client_ports.append(self.client_address[1])
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), KeepAlive)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        outcomes = [http.post(session, f"http://localhost:{server.server_address[1]}/", b"{}", {}) for _ in range(3)]
    finally:
        server.shutdown()
        server.server_close()
    assert [o.body for o in outcomes] == ["ok", "ok", "ok"]
    assert len(client_ports) == 3 and len(set(client_ports)) == 1


def test_every_caller_shares_one_session_per_allow_list():
    allow = parse_cidrs("KLAXON_WEBHOOK_ALLOW_CIDRS", "127.0.0.0/8")
    shared = http.session(allow)
    assert http.session(tuple(allow)) is shared
    assert http.session(()) is not shared
    assert shared.headers["User-Agent"] == http.user_agent() and shared.trust_env is False


def test_the_user_agent_names_klaxon_and_the_apps_version(app):
    assert http.user_agent() == f"Klaxon/{app.config['KLAXON_VERSION']}"


def test_update_webhooks_flows_and_webhook_devices_send_through_the_shared_session(app, monkeypatch):
    """Each of the three callers posts with http.session(KLAXON_WEBHOOK_ALLOW_CIDRS) and http.user_agent()."""
    from alerting.flows import steps
    from alerting.notifications.transports import transport_for
    from alerting.update_webhooks import post as update_post

    sent = []
    monkeypatch.setattr(http, "post", lambda session, url, body, headers, **kw: sent.append((session, headers))
                        or http.Outcome(ok=True, status_code=200))
    allow = app.config["KLAXON"].webhook_allow_cidrs
    update_post.post(update_post.Send(1, "msg_1", "http://127.0.0.1:9/u", "{}", "status", ["s3cret"]))
    transport_for("webhook", app.config["KLAXON"]).send("http://127.0.0.1:9/d", _message())
    state = steps.RunState(run=None, alert=None, alert_json={}, trigger={}, depth=0, dry_run=False,
                           deadline=time.monotonic() + 10)
    steps.http_request(state, {"name": "call", "type": "http_request", "url": "http://127.0.0.1:9/f"})
    assert [session for session, _ in sent] == [http.session(allow)] * 3
    assert all(headers.get("User-Agent", http.user_agent()) == http.user_agent() for _, headers in sent)


def _message():
    from alerting.notifications.messages import build_message

    return build_message(sender_name="Prod", subject="Disk full", message="", priority="HIGH", event_identifier=1,
                         alert_id="a", properties={}, response_links=[], alert_url="http://klaxon.test/alerts/1",
                         recipient="bsmith", device_name="Hook")
