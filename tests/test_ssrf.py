"""The SSRF guard: save-time URL checks and connect-time checks that pin the checked address."""
from __future__ import annotations

import ipaddress
import socket
import subprocess

import pytest

from alerting.outbound import http
from alerting.outbound.ssrf import UnsafeURL, check_url, safe_addresses
from config import ConfigError, parse_cidrs
from tests.support import Receiver

LOOPBACK = parse_cidrs("KLAXON_WEBHOOK_ALLOW_CIDRS", "127.0.0.0/8")


@pytest.mark.parametrize("url, words", [
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
    ("http://[fd00:ec2::254]/", "fd00:ec2::254 is a cloud metadata address"),
    ("http://10.0.0.1/hook", "10.0.0.1 is a private address"),
    ("https://192.168.1.1/hook", "192.168.1.1 is a private address"),
    ("http://[::1]:8080/", "::1 is a loopback address"),
    ("http://127.0.0.1/", "127.0.0.1 is a loopback address"),
    ("http://localhost/", "localhost resolves to 127.0.0.1, which is a loopback address"),
    ("http://0.0.0.0/", "0.0.0.0 is an unspecified address"),
    ("http://100.64.0.1/", "100.64.0.1 is a shared (CGNAT) address"),
    ("http://[::ffff:10.1.2.3]/", "url: ::ffff:10.1.2.3 is a private address"),
    ("http://224.0.0.1/", "224.0.0.1 is a multicast address"),
    ("http://2130706433/", "2130706433 resolves to 127.0.0.1"),
])
def test_it_refuses_non_public_addresses_at_save_time(url, words):
    with pytest.raises(UnsafeURL) as caught:
        check_url(url, [])
    assert words in str(caught.value)
    assert str(caught.value).startswith("url: ")
    assert "KLAXON_WEBHOOK_ALLOW_CIDRS" in str(caught.value)


@pytest.mark.parametrize("url, words", [
    ("ftp://example.com/file", "scheme 'ftp' is not allowed"),
    ("file:///etc/passwd", "scheme 'file' is not allowed"),
    ("example.com/hook", "is not allowed; use http or https"),
    ("http:///hook", "has no host"),
    ("http://example.com:99999/", "is not a valid URL"),
    ("http://no-such-host.invalid/", "host no-such-host.invalid does not resolve"),
])
def test_it_refuses_urls_that_are_not_http_to_a_real_host(url, words):
    with pytest.raises(UnsafeURL) as caught:
        check_url(url, [])
    assert words in str(caught.value)


def test_it_never_repeats_credentials_from_the_url():
    with pytest.raises(UnsafeURL) as caught:
        check_url("http://admin:hunter2@10.0.0.1/hook?token=abc", [])
    assert "hunter2" not in str(caught.value) and "token" not in str(caught.value)


def test_it_allows_loopback_inside_the_allowed_cidrs():
    check_url("http://127.0.0.1:8000/hook", LOOPBACK)
    check_url("http://127.9.9.9/hook", LOOPBACK)
    check_url("http://localhost/hook", LOOPBACK)
    with pytest.raises(UnsafeURL):
        check_url("http://10.0.0.1/hook", LOOPBACK)


def test_it_passes_a_public_address_without_connecting():
    check_url("https://93.184.216.34/hook", [])
    check_url("http://[2606:2800:220:1:248:1893:25c8:1946]/hook", [])


def test_safe_addresses_returns_only_checked_addresses():
    assert safe_addresses("localhost", 80, LOOPBACK)[0] == "127.0.0.1"
    with pytest.raises(UnsafeURL):
        safe_addresses("localhost", 80, [])


def test_the_allow_list_setting_reads_commas_and_spaces_and_names_the_setting():
    assert parse_cidrs("KLAXON_WEBHOOK_ALLOW_CIDRS", "127.0.0.0/8, 10.1.0.0/16 ::1/128") == (
        ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("10.1.0.0/16"), ipaddress.ip_network("::1/128"))
    assert parse_cidrs("KLAXON_WEBHOOK_ALLOW_CIDRS", "") == ()
    with pytest.raises(ConfigError, match=r"KLAXON_WEBHOOK_ALLOW_CIDRS: '127\.0\.0\.0/99'"):
        parse_cidrs("KLAXON_WEBHOOK_ALLOW_CIDRS", "127.0.0.0/99")


def test_the_adapter_refuses_a_loopback_target_at_connect_time():
    with Receiver() as receiver:
        outcome = http.post(http.new_session([], "Klaxon/test"), receiver.url + "/hook", b"{}", {}, timeout=2)
    assert (outcome.ok, outcome.error_class, outcome.status_code) == (False, "ssrf", None)
    assert "127.0.0.1 is a loopback address" in outcome.error
    assert receiver.requests == []


def test_the_adapter_connects_when_the_cidr_is_allowed():
    with Receiver() as receiver:
        outcome = http.post(http.new_session(LOOPBACK, "Klaxon/test"), receiver.url + "/hook", b"{}", {}, timeout=2)
    assert outcome.ok and outcome.status_code == 200
    assert len(receiver.requests) == 1


def test_the_adapter_connects_to_the_address_it_checked_despite_rebinding(monkeypatch):
    """The first answer is checked and used; a later, different answer is never asked for."""
    real_getaddrinfo = socket.getaddrinfo
    answers = ["127.0.0.1", "10.255.255.1"]

    def rebinding_dns(host, port, *args, **kwargs):
        if host == "rebind.test":
            return real_getaddrinfo(answers.pop(0) if len(answers) > 1 else answers[0], port, *args, **kwargs)
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding_dns)
    with Receiver() as receiver:
        port = receiver.server.server_address[1]
        outcome = http.post(http.new_session(LOOPBACK, "Klaxon/test"), f"http://rebind.test:{port}/hook",
                            b"{}", {}, timeout=2)
    assert outcome.ok, outcome.error
    assert receiver.requests[0]["headers"]["Host"] == f"rebind.test:{port}"
    assert answers == ["10.255.255.1"]  # resolved exactly once


def test_the_adapter_refuses_a_name_that_rebinds_to_a_private_address(monkeypatch):
    real_getaddrinfo = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, port, *a, **kw: real_getaddrinfo(
        "10.0.0.7" if host == "rebind.test" else host, port, *a, **kw))
    outcome = http.post(http.new_session(LOOPBACK, "Klaxon/test"), "http://rebind.test/hook", b"{}", {}, timeout=2)
    assert outcome.error_class == "ssrf"
    assert "rebind.test resolves to 10.0.0.7, which is a private address" in outcome.error


def _make_certificate(tmp_path):
    """A throwaway CA and a server certificate for the name ``localhost`` only."""
    def openssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=tmp_path)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
            "-days", "1", "-subj", "/CN=Klaxon test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
            "-subj", "/CN=localhost")
    (tmp_path / "ext.cnf").write_text("subjectAltName=DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
            "-out", "server.pem", "-days", "1", "-extfile", "ext.cnf")
    return tmp_path / "ca.pem", tmp_path / "server.pem", tmp_path / "server.key"


@pytest.fixture
def tls_receiver(tmp_path):
    import ssl

    ca, cert, key = _make_certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with Receiver() as receiver:
        receiver.server.socket = context.wrap_socket(receiver.server.socket, server_side=True)
        yield receiver, str(ca)


def test_https_keeps_the_host_name_for_sni_and_certificate_checks(tls_receiver):
    receiver, ca = tls_receiver
    port = receiver.server.server_address[1]
    session = http.new_session(LOOPBACK, "Klaxon/test")
    session.verify = ca
    by_name = http.post(session, f"https://localhost:{port}/hook", b"{}", {}, timeout=5)
    assert by_name.ok, by_name.error
    assert receiver.requests[0]["headers"]["Host"] == f"localhost:{port}"
    by_address = http.post(session, f"https://127.0.0.1:{port}/hook", b"{}", {}, timeout=5)
    assert by_address.error_class == "tls"  # the certificate names localhost, not 127.0.0.1
    assert len(receiver.requests) == 1
