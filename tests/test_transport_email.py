"""Email transport against a real aiosmtpd server on 127.0.0.1; KLAXON_SMTP_URL parsing."""
from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.utils import parseaddr

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from alerting.notifications.messages import build_message
from alerting.notifications.transports import TransportError, transport_for
from alerting.notifications.transports.email import EmailTransport, build_email, parse_smtp_url
from tests.support import free_port

FROM = "klaxon@klaxon.test"


def make_message(**overrides):
    fields = {
        "sender_name": "Prod Monitoring", "subject": "Disk full on db-1", "message": "Free space fell below 5%",
        "priority": "HIGH", "event_identifier": 869000, "alert_id": "7d3a1c2e-0000-4000-8000-000000000001",
        "properties": {"Host": "db-1", "Mount": "/var"},
        "response_links": [("Acknowledge", None, "https://klaxon.test/respond/tok-ack"),
                        ("Resolve", "Close the alert", "https://klaxon.test/respond/tok-end")],
        "recipient": "bsmith", "device_name": "Work Email"}
    fields.update(overrides)
    return build_message(**fields)


class Keeper:
    """Accepts everything and keeps each envelope."""

    def __init__(self):
        self.envelopes = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 2.0.0 Queued as K1"


class RefusesRecipients(Keeper):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return "550 5.1.1 No such user here"


class TryLater(Keeper):
    async def handle_DATA(self, server, session, envelope):
        return "451 4.3.0 Mailbox busy, try again later"


@contextmanager
def smtp_server(handler, **kwargs):
    controller = Controller(handler, hostname="127.0.0.1", port=free_port(), **kwargs)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


def received(keeper):
    assert len(keeper.envelopes) == 1
    return message_from_bytes(keeper.envelopes[0].content, policy=policy.default)


def test_it_sends_a_multipart_email_with_the_sender_name_as_from():
    keeper = Keeper()
    with smtp_server(keeper) as server:
        note = EmailTransport(f"smtp://127.0.0.1:{server.port}", FROM).send("bsmith@example.com", make_message())
    assert note == "250 2.0.0 Queued as K1"
    assert keeper.envelopes[0].mail_from == FROM
    assert keeper.envelopes[0].rcpt_tos == ["bsmith@example.com"]
    email = received(keeper)
    assert email.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in email.iter_parts()] == ["text/plain", "text/html"]
    assert email["Subject"] == "[HIGH] Prod Monitoring: Disk full on db-1"
    assert email["From"].addresses[0].display_name == "Prod Monitoring"
    assert email["From"].addresses[0].addr_spec == FROM
    assert email["To"] == "bsmith@example.com"
    assert email["X-Klaxon-Event"] == "869000"
    assert email["Message-ID"].endswith("@klaxon.test>")
    text = email.get_body(("plain",)).get_content()
    html = email.get_body(("html",)).get_content()
    for part in (text, html):
        assert "Free space fell below 5%" in part and "Alert #869000" in part
        assert "db-1" in part and "Mount" in part
        assert "https://klaxon.test/respond/tok-ack" in part and "https://klaxon.test/respond/tok-end" in part


def test_it_encodes_a_non_ascii_sender_name_and_subject():
    keeper = Keeper()
    msg = make_message(sender_name="Überwachung, Prod", subject="Disque plein – db-1")
    with smtp_server(keeper) as server:
        EmailTransport(f"smtp://127.0.0.1:{server.port}", f"Klaxon <{FROM}>").send("bsmith@example.com", msg)
    email = received(keeper)
    assert email["From"].addresses[0].display_name == "Überwachung, Prod"
    assert email["From"].addresses[0].addr_spec == FROM
    assert email["Subject"] == "[HIGH] Überwachung, Prod: Disque plein – db-1"


def test_it_escapes_html_in_the_email_body():
    email = build_email(make_message(properties={"Host": "<script>alert(1)</script>"}), "a@example.com", FROM)
    html = email.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<script>alert(1)</script>" in email.get_body(("plain",)).get_content()


def test_it_logs_in_with_the_credentials_of_the_url():
    logins = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        logins.append((auth_data.login, auth_data.password))
        return AuthResult(success=auth_data.password == b"p@ss:word", handled=False)

    keeper = Keeper()
    with smtp_server(keeper, authenticator=authenticator, auth_require_tls=False) as server:
        url = f"smtp://alerts%40klaxon.test:p%40ss%3Aword@127.0.0.1:{server.port}"
        EmailTransport(url, FROM).send("bsmith@example.com", make_message())
        with pytest.raises(TransportError) as err:
            EmailTransport(url.replace("word@", "wrong@"), FROM).send("bsmith@example.com", make_message())
    assert logins[0] == (b"alerts@klaxon.test", b"p@ss:word")
    assert len(keeper.envelopes) == 1
    assert err.value.permanent is True
    assert "refused the login: 535" in err.value.message
    assert "p@ss" not in err.value.message and "wrong" not in err.value.message


@pytest.mark.parametrize("handler, permanent, said", [
    (RefusesRecipients, True, "refused recipient bsmith@example.com: 550 5.1.1 No such user here"),
    (TryLater, False, "451 4.3.0 Mailbox busy"),
], ids=["550-gives-up", "451-retries"])
def test_the_servers_refusal_decides_give_up_or_retry(handler, permanent, said):
    with smtp_server(handler()) as server:
        with pytest.raises(TransportError) as err:
            EmailTransport(f"smtp://127.0.0.1:{server.port}", FROM).send("bsmith@example.com", make_message())
    assert err.value.permanent is permanent
    assert said in err.value.message


def test_it_retries_when_the_server_is_down():
    port = free_port()
    with pytest.raises(TransportError) as err:
        EmailTransport(f"smtp://127.0.0.1:{port}", FROM).send("bsmith@example.com", make_message())
    assert err.value.permanent is False
    assert err.value.message == f"email: connection refused by 127.0.0.1:{port}"


def test_it_retries_when_the_server_never_answers():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        with pytest.raises(TransportError) as err:
            EmailTransport(f"smtp://127.0.0.1:{port}?timeout=0.3", FROM).send("bsmith@example.com", make_message())
    assert err.value.permanent is False
    assert f"timed out after 0.3s talking to 127.0.0.1:{port}" in err.value.message


def test_it_gives_up_when_starttls_is_asked_for_but_not_offered():
    with smtp_server(Keeper()) as server:
        with pytest.raises(TransportError) as err:
            EmailTransport(f"smtp://127.0.0.1:{server.port}?starttls=true", FROM).send("a@example.com", make_message())
    assert err.value.permanent is True
    assert "STARTTLS" in err.value.message


def test_it_refuses_to_send_without_an_smtp_url():
    with pytest.raises(TransportError) as err:
        EmailTransport(None, FROM).send("bsmith@example.com", make_message())
    assert err.value.message == "email: KLAXON_SMTP_URL is not set"
    assert err.value.permanent is True


def test_it_is_built_from_settings():
    transport = transport_for("email", {"smtp_url": "smtp://mail.example.com:2525", "smtp_from": FROM})
    assert (transport.smtp.host, transport.smtp.port, transport.from_addr) == ("mail.example.com", 2525, FROM)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return cert, context


def test_it_sends_over_starttls(certificate, monkeypatch):
    cert, context = certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    keeper = Keeper()
    with smtp_server(keeper, tls_context=context, require_starttls=True) as server:
        EmailTransport(f"smtp://127.0.0.1:{server.port}?starttls=true", FROM).send("a@example.com", make_message())
    assert received(keeper)["Subject"] == "[HIGH] Prod Monitoring: Disk full on db-1"


def test_it_retries_when_the_tls_certificate_is_not_trusted(certificate):
    _, context = certificate
    with smtp_server(Keeper(), tls_context=context) as server:
        with pytest.raises(TransportError) as err:
            EmailTransport(f"smtp://127.0.0.1:{server.port}?starttls=true", FROM).send("a@example.com", make_message())
    assert err.value.permanent is False
    assert "TLS with 127.0.0.1" in err.value.message and "CERTIFICATE_VERIFY_FAILED" in err.value.message


def test_it_reads_an_smtp_url_with_starttls_and_credentials():
    s = parse_smtp_url("smtp://user:pa%2Fss@mail.example.com:587?starttls=true")
    assert (s.host, s.port, s.username, s.password) == ("mail.example.com", 587, "user", "pa/ss")
    assert (s.starttls, s.implicit_tls, s.timeout) == (True, False, 10.0)
    assert "pa/ss" not in repr(s)


def test_it_reads_an_smtps_url_with_default_port_and_timeout():
    s = parse_smtp_url("smtps://mail.example.com?timeout=2.5")
    assert (s.port, s.implicit_tls, s.starttls, s.timeout, s.username) == (465, True, False, 2.5, None)
    assert parse_smtp_url("smtp://mail.example.com").port == 25


@pytest.mark.parametrize("url, words", [
    ("imap://mail.example.com", "smtp:// or smtps://"),
    ("mail.example.com:25", "smtp:// or smtps://"),
    ("smtp://", "no host name"),
    ("smtp://user:hunter2@mail.example.com:notaport", "port"),
    ("smtp://user:hunter2@mail.example.com:70000", "port"),
    ("smtp://mail.example.com?starttls=maybe", "starttls"),
    ("smtp://mail.example.com?timeout=soon", "timeout"),
    ("smtp://mail.example.com?timeout=0", "timeout"),
    ("smtp://mail.example.com?tls=on", "unknown option 'tls' in"),
    ("smtps://mail.example.com?starttls=true", "already uses TLS"),
])
def test_it_rejects_a_nonsense_smtp_url_naming_the_setting(url, words):
    with pytest.raises(ValueError) as err:
        parse_smtp_url(url)
    assert "KLAXON_SMTP_URL" in str(err.value)
    assert words in str(err.value)
    assert "hunter2" not in str(err.value)


def test_the_from_header_keeps_the_configured_address_even_with_a_display_name():
    email = build_email(make_message(), "a@example.com", "Klaxon Alerts <alerts@klaxon.test>")
    assert parseaddr(str(email["From"])) == ("Prod Monitoring", "alerts@klaxon.test")
