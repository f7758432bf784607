"""Apprise devices against a real local receiver; device target validation."""
from __future__ import annotations

import ipaddress
import logging

import pytest

from alerting.notifications.messages import build_message
from alerting.notifications.transports import TransportError, transport_for, validate_target
from alerting.notifications.transports.apprise_device import AppriseTransport
from tests.support import Receiver, free_port


def make_message():
    return build_message(
        sender_name="Prod Monitoring", subject="Disk full on db-1", message="Free space fell below 5%",
        priority="HIGH", event_identifier=869000, alert_id="7d3a1c2e-0000-4000-8000-000000000001",
        properties={"Host": "db-1"}, response_links=[("Acknowledge", None, "https://klaxon.test/respond/tok")],
        recipient="bsmith", device_name="Chat")


LOOPBACK = [ipaddress.ip_network("127.0.0.0/8")]


def test_it_refuses_a_loopback_apprise_url_that_is_not_allowed():
    with Receiver() as receiver:
        target = receiver.url.replace("http://", "json://") + "/notify"
        with pytest.raises(TransportError) as err:
            transport_for("apprise", {}).send(target, make_message())
        assert err.value.permanent and "KLAXON_WEBHOOK_ALLOW_CIDRS" in err.value.message
        assert receiver.requests == []


def test_it_notifies_an_apprise_url():
    with Receiver() as receiver:
        target = receiver.url.replace("http://", "json://") + "/notify"
        note = transport_for("apprise", {"webhook_allow_cidrs": LOOPBACK}).send(target, make_message())
        request = receiver.wait_for(1)[0]
    assert note == "JSON: sent"
    assert request["path"] == "/notify"
    body = receiver.json_bodies()[0]
    assert body["title"] == "[HIGH] Prod Monitoring: Disk full on db-1"
    assert "Free space fell below 5%" in body["message"]
    assert "Host: db-1" in body["message"]
    assert "Acknowledge: https://klaxon.test/respond/tok" in body["message"]
    assert body["type"] == "failure"  # HIGH priority shows as Apprise's most urgent type


@pytest.mark.parametrize("target", ["nonsense", "notaservice://token@host", ""])
def test_it_gives_up_on_a_url_apprise_does_not_understand(target):
    with pytest.raises(TransportError) as err:
        AppriseTransport().send(target, make_message())
    assert err.value.message == "apprise: URL not understood"
    assert err.value.permanent is True


def test_it_retries_when_the_service_fails_without_naming_its_url(caplog):
    caplog.set_level(logging.DEBUG, logger="apprise")
    with Receiver([(404, {}, b"no such hook")]) as receiver:
        target = receiver.url.replace("http://", "json://") + "/hooks/SECRET-TOKEN-123"
        with pytest.raises(TransportError) as err:
            AppriseTransport().send(target, make_message())
        assert len(receiver.requests) == 1
    assert err.value.permanent is False
    assert err.value.message.startswith("apprise: JSON: ") and "404" in err.value.message
    assert "SECRET-TOKEN-123" not in err.value.message
    apprise_lines = [r.getMessage() for r in caplog.records if r.name == "apprise"]
    assert apprise_lines, "Apprise's warnings should still be logged"
    assert not any("SECRET-TOKEN-123" in line for line in apprise_lines)


def test_it_retries_when_the_service_is_down():
    target = f"json://127.0.0.1:{free_port()}/hooks/SECRET-TOKEN-123"
    with pytest.raises(TransportError) as err:
        AppriseTransport().send(target, make_message())
    assert err.value.permanent is False
    assert "SECRET-TOKEN-123" not in err.value.message


def test_it_never_logs_a_url_it_cannot_understand(caplog):
    caplog.set_level(logging.DEBUG, logger="apprise")
    with pytest.raises(TransportError):
        AppriseTransport().send("xoxb-SECRET-TOKEN-123", make_message())
    assert caplog.records, "Apprise should have complained"
    assert not any("SECRET-TOKEN-123" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("kind, target", [
    ("email", "bsmith@example.com"),
    ("webhook", "https://ops.example.com/page"),
    ("webhook", "http://127.0.0.1:8080/hook"),
    ("apprise", "json://127.0.0.1:8080/notify"),
    ("apprise", "ntfy://ntfy.example.com/klaxon-alerts"),
])
def test_it_accepts_a_good_target(kind, target):
    assert validate_target(kind, target) is None


@pytest.mark.parametrize("kind, target, words", [
    ("email", "bsmith", "not an email address"),
    ("email", "bsmith@@example.com", "not an email address"),
    ("email", "", "is required"),
    ("webhook", "ftp://files.example.com/x", "http:// or https://"),
    ("webhook", "ops.example.com/page", "http:// or https://"),
    ("webhook", "https://", "http:// or https://"),
    ("apprise", "nonsense", "Apprise does not understand"),
    ("apprise", "notaservice://SECRET-TOKEN-123@host", "Apprise does not understand"),
])
def test_it_rejects_a_bad_target_naming_the_field(kind, target, words):
    with pytest.raises(ValueError) as err:
        validate_target(kind, target)
    assert str(err.value).startswith("target: ")
    assert words in str(err.value)
    assert "SECRET-TOKEN-123" not in str(err.value)


def test_it_rejects_an_unknown_device_kind():
    with pytest.raises(ValueError) as err:
        validate_target("pager", "555-0100")
    assert str(err.value).startswith("kind: ")
