"""Email settings for tests whose app sends through conftest's ``smtp_server`` (aiosmtpd on 127.0.0.1).

A module that mails writes ``settings_env(smtp_server)`` returning :func:`smtp_env`: taking
``smtp_server`` makes it listen before the app reads KLAXON_SMTP_URL.
"""
from __future__ import annotations

FROM = "alerts@klaxon.test"


def smtp_env(server, sender: str = FROM) -> dict:
    """Settings that make the app send through ``server`` (a tests.support.SmtpServer) from ``sender``."""
    return {"KLAXON_SMTP_URL": server.url, "KLAXON_SMTP_FROM": sender}
