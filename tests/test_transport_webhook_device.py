"""Webhook devices: a JSON POST to a real HTTP receiver on 127.0.0.1."""
from __future__ import annotations

import json

import pytest

from alerting.notifications.messages import build_message
from alerting.notifications.transports import TransportError, transport_for
from alerting.notifications.transports.webhook_device import WebhookTransport
from config import parse_cidrs
from tests.support import Receiver, free_port

LOOPBACK = parse_cidrs("KLAXON_WEBHOOK_ALLOW_CIDRS", "127.0.0.0/8")


def make_message():
    return build_message(
        sender_name="Prod Monitoring", subject="Disk full on db-1", message="Free space fell below 5%",
        priority="HIGH", event_identifier=869000, alert_id="7d3a1c2e-0000-4000-8000-000000000001",
        properties={"Host": "db-1"}, response_links=[("Acknowledge", None, "https://klaxon.test/respond/tok")],
        alert_url="https://klaxon.test/alerts/869000", recipient="bsmith", device_name="Ops hook")


def test_it_posts_the_message_as_json():
    with Receiver() as receiver:
        note = WebhookTransport(LOOPBACK).send(receiver.url + "/page?team=db", make_message())
        request = receiver.wait_for(1)[0]
    assert note == "HTTP 200"
    assert request["method"] == "POST" and request["path"] == "/page?team=db"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["headers"]["User-Agent"].startswith("Klaxon")
    assert request["headers"]["X-Klaxon-Event"] == "869000"
    body = json.loads(request["body"])
    assert body["eventIdentifier"] == 869000
    assert body["subjectLine"] == "[HIGH] Prod Monitoring: Disk full on db-1"
    assert body["properties"] == {"Host": "db-1"}
    assert body["recipient"] == "bsmith" and body["device"] == "Ops hook"
    assert body["responses"] == [{"text": "Acknowledge", "description": None, "url": "https://klaxon.test/respond/tok"}]


@pytest.mark.parametrize("status", [400, 401, 404, 410])
def test_it_gives_up_on_a_client_error(status):
    with Receiver([(status, {}, b"no")]) as receiver:
        with pytest.raises(TransportError) as err:
            WebhookTransport(LOOPBACK).send(receiver.url + "/hook", make_message())
    assert err.value.permanent is True
    assert err.value.message.startswith(f"webhook: HTTP {status}")


@pytest.mark.parametrize("status", [408, 429, 500, 503])
def test_it_retries_on_a_server_error_or_throttling(status):
    with Receiver([(status, {}, b"busy")]) as receiver:
        with pytest.raises(TransportError) as err:
            WebhookTransport(LOOPBACK).send(receiver.url + "/hook", make_message())
    assert err.value.permanent is False
    assert err.value.message.startswith(f"webhook: HTTP {status}")


def test_it_does_not_follow_redirects():
    with Receiver([(302, {"Location": "/elsewhere"}, b"")]) as receiver:
        with pytest.raises(TransportError) as err:
            WebhookTransport(LOOPBACK).send(receiver.url + "/hook", make_message())
        assert len(receiver.requests) == 1
    assert err.value.message.count("redirects are not followed") == 1
    assert err.value.permanent is False


def test_it_retries_when_nothing_listens():
    port = free_port()
    with pytest.raises(TransportError) as err:
        WebhookTransport(LOOPBACK).send(f"http://127.0.0.1:{port}/hook/secret-token", make_message())
    assert err.value.permanent is False
    assert err.value.message == f"webhook: connection refused (127.0.0.1:{port})"
    assert "secret-token" not in err.value.message


def test_it_retries_when_the_receiver_is_too_slow():
    with Receiver(delay=1.5) as receiver:
        with pytest.raises(TransportError) as err:
            WebhookTransport(LOOPBACK, timeout=0.3).send(receiver.url + "/hook", make_message())
    assert err.value.permanent is False
    assert "timed out after 0.3s" in err.value.message


def test_it_gives_up_on_an_address_the_guard_refuses_without_connecting():
    with Receiver() as receiver:
        transport = transport_for("webhook", {"webhook_allow_cidrs": ()})
        with pytest.raises(TransportError) as err:
            transport.send(receiver.url + "/hook/secret-token", make_message())
        assert receiver.requests == []
    assert err.value.permanent is True
    assert "127.0.0.1 is a loopback address" in err.value.message and err.value.message.startswith("webhook: ")
    assert "secret-token" not in err.value.message


def test_the_settings_allow_list_reaches_the_transport():
    with Receiver() as receiver:
        note = transport_for("webhook", {"webhook_allow_cidrs": LOOPBACK}).send(receiver.url + "/hook", make_message())
    assert note == "HTTP 200"
