"""End to end: an alert through the integration URL, a real notification to a webhook device and a
response through the API each reach a real receiver as a signed update, in xMatters' form."""
import re
from datetime import datetime, timedelta

import pytest

from app import VERSION
from models import utcnow
from tests.support import Receiver, drive, header, trigger, updates_config, verified, webhook_messages

DATE = re.compile(r"^\d{2}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$")
PROPERTIES = {"Summary": "Disk full on db-1", "Host": "db-1", "Region": "eu-west"}


@pytest.fixture
def updates():
    with Receiver() as receiver:
        yield receiver


@pytest.fixture
def device():
    with Receiver() as receiver:
        yield receiver


def received(receiver, path, secret):
    """Every update at ``path``, each checked with standardwebhooks; with its headers."""
    out = []
    for request in receiver.requests:
        if request["path"] == path:
            out.append((verified(request, secret), {k.lower(): v for k, v in request["headers"].items()}))
    return out


def check_date(value):
    assert DATE.match(value), value
    sent = datetime.strptime(value, "%y-%m-%d %H:%M:%S.%f")
    assert abs(sent - utcnow()) < timedelta(minutes=1)


def run_scenario(api, client, run_jobs, updates, device, **config_extra):
    """Alert (bsmith's webhook device delivered), then bsmith answers Resolve: five updates in all."""
    user = api.post("/api/v1/users", json={"username": "bsmith", "devices": [
        {"name": "Ops hook", "kind": "webhook", "target": f"{device.url}/bob"}]}).get_json()
    config = updates_config(api, updates, types=("status", "delivery", "response"),
                         recipients=[{"id": "bsmith", "recipientType": "PERSON"}], **config_extra)
    created = trigger(client, config, {"properties": PROPERTIES, "message": "Free space fell below 5%"})
    drive(run_jobs, lambda: len(updates.requests) >= 2 and device.requests)
    response = api.post(f"/api/v1/alerts/{created['alertId']}/responses",
                        json={"recipient": "bsmith", "response": "Resolve", "comment": "fixed"})
    assert response.status_code == 201, response.get_json()
    drive(run_jobs, lambda: len(updates.requests) >= 4)
    assert [m.status for m in webhook_messages()] == ["delivered"] * 4
    return config, created, user["devices"][0]["deviceId"]


def test_each_update_type_arrives_signed_in_xmatters_form(api, client, run_jobs, updates, device):
    config, created, device_id = run_scenario(api, client, run_jobs, updates, device)
    secret, number = config["signingSecret"], created["eventIdentifier"]
    event_properties = [{"Summary": "Disk full on db-1"}, {"Host": "db-1"}, {"Region": "eu-west"}]

    (active, _), (ended, ended_headers) = received(updates, "/status", secret)
    assert set(active) == {"eventIdentifier", "status", "username", "date", "eventProperties"}
    # SPEC §4: never null for a change made by something; the integration URL created it
    assert (active["eventIdentifier"], active["status"], active["username"]) == \
        (number, "active", "integration:Monitoring")
    assert active["eventProperties"] == event_properties
    check_date(active["date"])
    assert (ended["status"], ended["username"]) == ("terminated_external", "bsmith")
    assert ended_headers["x-klaxon-update-type"] == "status"

    ((delivered, headers),) = received(updates, "/delivery", secret)
    assert delivered == {"recipient": "bsmith", "device": "Ops hook", "deliveryStatus": "Delivered",
                         "deviceId": device_id, "eventType": "LIVE_NOTIFICATION_PROVIDER_DELIVERED",
                         "message": "Notification delivered", "eventIdentifier": number,
                         "date": delivered["date"], "eventProperties": event_properties}
    check_date(delivered["date"])
    assert headers["x-klaxon-update-type"] == "delivery"
    assert headers["content-type"] == "application/json" and headers["user-agent"] == f"Klaxon/{VERSION}"
    assert headers["webhook-id"] == webhook_messages(update_type="delivery")[0].msg_id

    ((answer, headers),) = received(updates, "/response", secret)
    # a response through the REST API came through no device: it names the API (docs/design.md)
    assert answer == {"eventIdentifier": number, "recipient": "bsmith", "device": "REST API", "response": "Resolve",
                      "annotation": "fixed", "date": answer["date"], "eventProperties": event_properties}
    check_date(answer["date"])
    assert headers["x-klaxon-update-type"] == "response"


def test_the_body_sent_is_the_body_stored(api, client, run_jobs, updates, device):
    run_scenario(api, client, run_jobs, updates, device)
    sent = {header(r, "webhook-id"): r["body"].decode() for r in updates.requests}
    assert sent == {m.msg_id: m.body for m in webhook_messages()}


def test_subject_and_message_are_added_when_the_configuration_asks(api, client, run_jobs, updates, device):
    config, _, _ = run_scenario(api, client, run_jobs, updates, device, includeSubjectAndMessage=True)
    bodies = [body for path in ("/status", "/delivery", "/response")
              for body, _ in received(updates, path, config["signingSecret"])]
    assert len(bodies) == 4
    for body in bodies:
        assert body["subject"] == "Disk full on db-1" and body["alertMessage"] == "Free space fell below 5%"


def test_a_failed_notification_sends_a_failed_delivery_update(api, client, run_jobs, updates):
    with Receiver(script=[(500, {}, b"down")]) as broken:
        api.post("/api/v1/users", json={"username": "bsmith", "devices": [
            {"name": "Ops hook", "kind": "webhook", "target": f"{broken.url}/bob"}]})
        config = updates_config(api, updates, types=("delivery",),
                             recipients=[{"id": "bsmith", "recipientType": "PERSON"}])
        trigger(client, config, {"properties": PROPERTIES})
        drive(run_jobs, lambda: updates.requests)
    ((failed, _),) = received(updates, "/delivery", config["signingSecret"])
    assert failed["deliveryStatus"] == "Failed" and failed["eventType"] == "LIVE_NOTIFICATION_PROVIDER_FAILED"
    assert failed["recipient"] == "bsmith" and failed["device"] == "Ops hook" and "500" in failed["message"]
