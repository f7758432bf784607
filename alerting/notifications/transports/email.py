"""Email devices: a multipart (text and HTML) message over SMTP, configured by ``KLAXON_SMTP_URL``.

``smtp://user:pass@host:587?starttls=true`` for STARTTLS, ``smtps://host:465`` for implicit TLS,
``?timeout=10`` (seconds) optional. Credentials never appear in errors or reprs.
"""
from __future__ import annotations

import smtplib
import socket
import ssl
from dataclasses import dataclass, field
from email import policy
from email.charset import Charset
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from urllib.parse import parse_qsl, unquote, urlsplit

from alerting.notifications.messages import Message, render_html, render_text
from alerting.notifications.transports import TransportError, setting

DEFAULT_TIMEOUT = 10.0
DEFAULT_PORTS = {"smtp": 25, "smtps": 465}
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")
MAX_NAME = 300  # a From line stays far under RFC 5322's 998 characters
# The From line is stored as built and never refolded: the library's refolding of a long quoted
# name drops the quotes, and ``"…" <ceo@bank.example>`` in the name becomes the address.
EMAIL_POLICY = policy.default.clone(refold_source="none")


@dataclass(frozen=True)
class SmtpSettings:
    """Where and how to reach the SMTP server."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    implicit_tls: bool = False
    starttls: bool = False
    timeout: float = DEFAULT_TIMEOUT


def _options(query: str) -> tuple[bool, float]:
    starttls, timeout = False, DEFAULT_TIMEOUT
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key == "starttls" and value.lower() in TRUE + FALSE:
            starttls = value.lower() in TRUE
        elif key == "starttls":
            raise ValueError(f"starttls in KLAXON_SMTP_URL must be true or false, got {value!r}")
        elif key == "timeout":
            try:
                timeout = float(value)
            except ValueError:
                timeout = -1.0
            if not 0 < timeout <= 300:
                raise ValueError(f"timeout in KLAXON_SMTP_URL must be seconds between 0 and 300, got {value!r}")
        else:
            raise ValueError(f"unknown option {key!r} in KLAXON_SMTP_URL; use starttls or timeout")
    return starttls, timeout


def parse_smtp_url(url: str) -> SmtpSettings:
    """Parse ``KLAXON_SMTP_URL``; raise ValueError naming it (and never echoing the password)."""
    parts = urlsplit((url or "").strip())
    if parts.scheme not in DEFAULT_PORTS:
        got = f"{parts.scheme}://" if parts.scheme and parts.netloc else "no scheme"
        raise ValueError(f"use smtp:// or smtps:// in KLAXON_SMTP_URL, got {got}")
    if not parts.hostname:
        raise ValueError("no host name in KLAXON_SMTP_URL; write it as smtp://mail.example.com:587")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise ValueError("the port in KLAXON_SMTP_URL must be a number from 1 to 65535") from None
    if not 0 < port < 65536:
        raise ValueError("the port in KLAXON_SMTP_URL must be a number from 1 to 65535")
    starttls, timeout = _options(parts.query)
    if starttls and parts.scheme == "smtps":
        raise ValueError("smtps:// in KLAXON_SMTP_URL already uses TLS; drop starttls=true or use smtp://")
    return SmtpSettings(
        host=parts.hostname, port=port,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password is not None else None,
        implicit_tls=parts.scheme == "smtps", starttls=starttls, timeout=timeout)


def mailbox(display_name: str, addr_spec: str) -> str:
    """``display_name <addr_spec>`` as the value of a From header that no display name can break out of.

    A printable ASCII name is one quoted string; any other (non-ASCII, or holding ``=?``, which
    readers decode even inside quotes) is one RFC 2047 encoded word, in which ``"<>,@`` are encoded.
    """
    name = " ".join(display_name.split())[:MAX_NAME]
    if not name:
        return addr_spec
    if name.isascii() and name.isprintable() and "=?" not in name:
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{quoted}" <{addr_spec}>'
    return f"{Charset('utf-8').header_encode(name)} <{addr_spec}>"


def build_email(msg: Message, to_addr: str, from_addr: str) -> EmailMessage:
    """The email for one notification; the sender name is the display name of ``From``, nothing more."""
    address = parseaddr(from_addr)[1] or from_addr
    email = EmailMessage(policy=EMAIL_POLICY)
    email["Subject"] = msg.subject_line
    email.set_raw("From", mailbox(msg.sender_name, address))
    email["To"] = to_addr
    email["Date"] = formatdate(usegmt=True)
    email["Message-ID"] = make_msgid(domain=address.rpartition("@")[2] or "klaxon.invalid")
    email["X-Klaxon-Event"] = msg.event_header
    # Tells mail servers not to answer alerts with vacation notices and the like (RFC 3834).
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(render_text(msg))
    email.add_alternative(render_html(msg), subtype="html")
    return email


class _KeepsDataReply:
    """Keeps the server's reply to DATA, which ``sendmail`` otherwise throws away."""

    data_reply = None

    def data(self, msg):
        self.data_reply = super().data(msg)
        return self.data_reply


class _SMTP(_KeepsDataReply, smtplib.SMTP):
    pass


class _SMTPS(_KeepsDataReply, smtplib.SMTP_SSL):
    pass


def _text(raw) -> str:
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    return " ".join(text.split())[:300]


def _error(exc: Exception, s: SmtpSettings, to_addr: str) -> TransportError:
    where = f"{s.host}:{s.port}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        code, reply = next(iter(exc.recipients.values()))
        return TransportError(f"email: {where} refused recipient {to_addr}: {code} {_text(reply)}", code >= 500)
    if isinstance(exc, smtplib.SMTPResponseException):
        what = {smtplib.SMTPAuthenticationError: "refused the login", smtplib.SMTPSenderRefused: "refused the sender",
                smtplib.SMTPDataError: "refused the message"}.get(type(exc), "answered")
        code = exc.smtp_code
        return TransportError(f"email: {where} {what}: {code} {_text(exc.smtp_error)}", 500 <= code < 600)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return TransportError(f"email: {where}: {exc}", permanent=True)
    # smtplib reports a timeout while waiting for a reply as a disconnect.
    if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
        return TransportError(f"email: timed out after {s.timeout:g}s talking to {where}")
    if isinstance(exc, ConnectionRefusedError):
        return TransportError(f"email: connection refused by {where}")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return TransportError(f"email: {where} closed the connection: {_text(exc) or 'no reason given'}")
    if isinstance(exc, socket.gaierror):
        return TransportError(f"email: cannot resolve {s.host}: {exc.strerror}")
    if isinstance(exc, ssl.SSLError):
        return TransportError(f"email: TLS with {where} failed: {exc.reason or exc}")
    return TransportError(f"email: sending through {where} failed: {type(exc).__name__}: {_text(exc)}")


class EmailTransport:
    """Sends email devices their messages through the SMTP server of ``KLAXON_SMTP_URL``."""

    def __init__(self, smtp_url: str | None, from_addr: str):
        self.smtp = parse_smtp_url(smtp_url) if smtp_url else None
        self.from_addr = from_addr

    @classmethod
    def from_settings(cls, settings, **kwargs):
        """Build from Klaxon's settings: ``smtp_url`` and ``smtp_from``."""
        return cls(setting(settings, "smtp_url"), setting(settings, "smtp_from") or "klaxon@localhost", **kwargs)

    def _connect(self) -> smtplib.SMTP:
        s = self.smtp
        assert s is not None  # send() refuses first when KLAXON_SMTP_URL is unset
        smtp: smtplib.SMTP
        if s.implicit_tls:
            smtp = _SMTPS(s.host, s.port, timeout=s.timeout, context=ssl.create_default_context())
        else:
            smtp = _SMTP(s.host, s.port, timeout=s.timeout)
        try:
            if s.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if s.username:
                smtp.login(s.username, s.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, target: str, msg: Message) -> str:
        """Send ``msg`` to the address ``target``; return the server's reply, e.g. ``250 OK``."""
        if self.smtp is None:
            raise TransportError("email: KLAXON_SMTP_URL is not set", permanent=True)
        email = build_email(msg, target, self.from_addr)
        envelope_from = parseaddr(self.from_addr)[1] or self.from_addr
        try:
            with self._connect() as smtp:
                smtp.send_message(email, from_addr=envelope_from, to_addrs=[target])
                code, reply = getattr(smtp, "data_reply", None) or (250, b"OK")  # set by our _SMTP subclass
        except (smtplib.SMTPException, OSError) as exc:
            raise _error(exc, self.smtp, target) from None
        return f"{code} {_text(reply)}"
