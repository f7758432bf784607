"""A trigger's ``callbacks`` (SPEC §2): the URL gets that update type of this alert alone, posted
exactly as the configuration's update webhooks are (payload, signature, retries, SSRF checks), with
HTTP Basic when asked; the password is never shown or logged."""
import base64
import json
import logging
from pathlib import Path

import pytest

from extensions import db
from models import UPDATE_TYPES, Alert, UpdateEndpoint, WebhookMessage
from tests.support import (
    Receiver,
    add_user,
    drive,
    header,
    hook,
    make_config,
    send_alert,
    trigger,
    updates_config,
    verified,
    webhook_messages,
)

PAYLOADS = Path(__file__).parent / "payloads"
PASSWORD = "hubot-callback-secret"


def hubot_body(url: str) -> dict:
    return json.loads((PAYLOADS / "xm_hubot.json").read_text().replace("{callback}", url))


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def by_type(receiver) -> dict:
    out: dict = {}
    for request in receiver.requests:
        out.setdefault(request["path"].rsplit("=", 1)[-1], []).append(request)
    return out


def test_hubots_callbacks_get_each_update_signed_with_basic_auth(api, client, run_jobs):
    with Receiver() as device, Receiver() as hubot:
        add_user(api, "bsmith", [hook(device, "Hook", "bsmith")])
        cfg = make_config(api, senderName="Prod Monitoring",
                          responseOptions=[{"text": "Acknowledge", "action": "STOP_NOTIFYING_USER"}])
        created = trigger(client, cfg, hubot_body(hubot.url))
        number = created["eventIdentifier"]
        drive(run_jobs, lambda: len(hubot.requests) >= 2)  # status active, then the delivery
        answer = api.post(f"/api/v1/alerts/{created['alertId']}/responses",
                          json={"recipient": "bsmith", "response": "Acknowledge", "comment": "on it"})
        assert answer.status_code == 201, answer.get_json()
        drive(run_jobs, lambda: len(hubot.requests) >= 3)
    updates = by_type(hubot)
    assert set(updates) == {"status", "deliveryStatus", "response"}
    for kind, (request,) in updates.items():
        assert request["path"] == f"/hubot/listener?type={kind}"
        assert header(request, "authorization") == basic("xMatters", PASSWORD)
        body = verified(request, cfg["signingSecret"])  # signed with the configuration's secret
        assert body["eventIdentifier"] == number
        assert body["eventProperties"] == [{"Message": "db-1 is out of disk, please look"}, {"Room": "ops"}]
    status = json.loads(updates["status"][0]["body"])
    assert (status["status"], header(updates["status"][0], "x-klaxon-update-type")) == ("active", "status")
    delivery = json.loads(updates["deliveryStatus"][0]["body"])
    assert (delivery["recipient"], delivery["device"], delivery["deliveryStatus"]) == ("bsmith", "Hook", "Delivered")
    response = json.loads(updates["response"][0]["body"])
    assert (response["recipient"], response["response"], response["annotation"]) == ("bsmith", "Acknowledge", "on it")


def test_a_callback_is_for_its_alert_alone_and_alongside_the_configurations_own(api, client, run_jobs):
    with Receiver() as own, Receiver() as callback:
        cfg = updates_config(api, own, types=("status",))
        first = trigger(client, cfg, {"subject": "With a callback",
                                      "callbacks": [{"url": f"{callback.url}/cb", "type": "status"}]})
        second = trigger(client, cfg, {"subject": "Without"})
        drive(run_jobs, lambda: len(own.requests) >= 2 and len(callback.requests) >= 1)
    assert [json.loads(r["body"])["eventIdentifier"] for r in callback.requests] == [first["eventIdentifier"]]
    assert sorted(json.loads(r["body"])["eventIdentifier"] for r in own.requests) == sorted(
        [first["eventIdentifier"], second["eventIdentifier"]])
    assert "authorization" not in {k.lower() for k in callback.requests[0]["headers"]}
    db.session.expire_all()
    endpoints = db.session.get(Alert, first["eventIdentifier"]).configuration.endpoints
    assert sorted(e.update_type for e in endpoints) == sorted(UPDATE_TYPES)  # its own, not the alert's callback


def test_a_failing_callback_is_retried_with_the_same_webhook_id(api, client, run_jobs):
    with Receiver(script=[(503, {}, b"busy"), (200, {}, b"ok")]) as callback:
        cfg = make_config(api)
        trigger(client, cfg, {"callbacks": [{"url": f"{callback.url}/cb", "type": "status"}]})
        drive(run_jobs, lambda: webhook_messages() and webhook_messages()[0].status == "delivered")
    first, second = callback.requests
    assert header(first, "webhook-id") == header(second, "webhook-id")
    assert verified(second, cfg["signingSecret"])["status"] == "active"
    (message,) = webhook_messages()
    assert [a.status_code for a in message.attempts_log] == [503, 200]


@pytest.mark.parametrize("url", ["http://10.0.0.7/cb", "http://169.254.169.254/latest", "ftp://example.com/x"])
def test_a_callback_url_klaxon_will_not_post_to_is_a_400_naming_it(api, client, url):
    cfg = make_config(api)
    response = send_alert(client, cfg, {"callbacks": [{"url": "http://127.0.0.1:9/ok", "type": "status"},
                                                      {"url": url, "type": "response"}]})
    assert response.status_code == 400
    assert response.get_json()["message"].startswith("callbacks[1].url")
    assert db.session.query(Alert).count() == 0 and db.session.query(UpdateEndpoint).filter(
        UpdateEndpoint.alert_id.isnot(None)).count() == 0


@pytest.mark.parametrize("settings_env", [{"KLAXON_WEBHOOK_ALLOW_CIDRS": ""}])
def test_a_loopback_callback_is_refused_unless_allowed(api, client):
    body = {"callbacks": [{"url": "http://127.0.0.1:8080/cb", "type": "status"}]}
    response = send_alert(client, make_config(api), body)
    assert response.status_code == 400
    assert "loopback" in response.get_json()["message"]


@pytest.mark.parametrize("callback, field", [
    ({"url": "http://127.0.0.1:9/cb", "type": "everything"}, "callbacks[0].type"),
    ({"type": "status"}, "callbacks[0].url"),
    ({"url": "http://127.0.0.1:9/cb", "type": "status", "authType": "OAUTH"}, "callbacks[0].authType"),
    ({"url": "http://127.0.0.1:9/cb", "type": "status", "authType": "BASIC", "authUserName": "u"},
     "callbacks[0].authPassword"),
    ("http://127.0.0.1:9/cb", "callbacks[0]"),
])
def test_a_malformed_callback_is_a_400_naming_the_field(api, client, callback, field):
    response = send_alert(client, make_config(api), {"callbacks": [callback]})
    assert response.status_code == 400
    assert response.get_json()["message"].startswith(field)


def test_the_password_is_not_shown_by_the_api_nor_logged(api, client, run_jobs, caplog):
    caplog.set_level(logging.DEBUG)
    with Receiver(script=[(500, {}, b"no")]) as hubot:
        created = trigger(client, make_config(api), hubot_body(hubot.url))
        drive(run_jobs, lambda: len(hubot.requests) >= 1)
    shown = api.get(f"/api/v1/alerts/{created['alertId']}").get_json()
    assert [c["type"] for c in shown["callbacks"]] == ["status", "deliveryStatus", "response"]
    assert shown["callbacks"][0]["authType"] == "BASIC" and shown["callbacks"][0]["authUserName"] == "xMatters"
    assert PASSWORD not in json.dumps(shown)
    assert PASSWORD not in json.dumps(api.get("/api/v1/webhook-messages").get_json() or {})
    assert PASSWORD not in caplog.text
    assert all(PASSWORD not in (m.body + m.url + (m.last_error or "")) for m in db.session.query(WebhookMessage))


def test_the_dashboards_delivery_log_never_shows_the_password(api, client, admin_client):
    trigger(client, make_config(api), hubot_body("http://127.0.0.1:9"))  # messages pending: enough to list
    page = admin_client.get("/deliveries").get_data(as_text=True)
    assert "/hubot/listener" in page and PASSWORD not in page
    message = webhook_messages()[0]
    assert PASSWORD not in admin_client.get(f"/deliveries/{message.id}").get_data(as_text=True)
