"""/api/v1/webhook-messages: the outbound log with filters, one message with its attempts,
redelivering one message and recovering every failed one of an endpoint since a time."""
from datetime import timedelta

import pytest

from extensions import db
from models import UpdateEndpoint, iso, utcnow
from tests.support import Receiver, drive, header, trigger, updates_config, webhook_messages


@pytest.fixture
def two_alerts(api, client, run_jobs, receiver, admin):
    """One configuration posting status and response updates; two alerts, the second answered."""
    config = updates_config(api, receiver, types=("status", "response"))
    first = trigger(client, config)
    second = trigger(client, config, {"subject": "CPU hot"})
    api.post(f"/api/v1/alerts/{second['alertId']}/responses", json={"recipient": "admin", "response": "Acknowledge"})
    run_jobs()
    receiver.wait_for(3)
    return config, first, second


def items(api, query=""):
    response = api.get(f"/api/v1/webhook-messages{query}")
    assert response.status_code == 200, response.get_json()
    return response.get_json()["items"]


def test_it_lists_messages_newest_first_with_filters(api, admin, two_alerts):
    config, first, second = two_alerts
    listed = items(api)
    assert [m["updateType"] for m in listed] == ["response", "status", "status"]
    assert all(m["status"] == "delivered" and m["configuration"] == config["uuid"] for m in listed)
    assert listed[0]["alertId"] == second["alertId"] and listed[0]["eventIdentifier"] == second["eventIdentifier"]
    assert [m["updateType"] for m in items(api, "?updateType=status")] == ["status", "status"]
    assert [m["alertId"] for m in items(api, f"?alertId={first['alertId']}")] == [first["alertId"]]
    assert len(items(api, f"?alertId={second['eventIdentifier']}")) == 2
    assert len(items(api, f"?configuration={config['uuid']}&status=delivered")) == 3
    assert items(api, "?status=dead,pending") == []
    page = api.get("/api/v1/webhook-messages?limit=2").get_json()
    rest = api.get(f"/api/v1/webhook-messages?limit=2&cursor={page['next']}").get_json()
    assert len(page["items"]) == 2 and len(rest["items"]) == 1 and rest["next"] is None


def test_it_rejects_bad_filters(api, admin, two_alerts):
    for query, field in (("?status=lost", "status"), ("?updateType=email", "updateType"),
                         ("?configuration=nope", "configuration"), ("?alertId=424242", "alertId")):
        response = api.get(f"/api/v1/webhook-messages{query}")
        assert response.status_code == 400 and response.get_json()["field"] == field


def test_it_shows_one_message_with_its_attempts(api, admin, two_alerts):
    msg_id = items(api, "?updateType=response")[0]["msgId"]
    shown = api.get(f"/api/v1/webhook-messages/{msg_id}").get_json()
    assert shown["payload"]["response"] == "Acknowledge" and shown["attemptCount"] == 1
    (attempt,) = shown["attempts"]
    assert attempt["statusCode"] == 200 and attempt["responseBody"] == '{"ok": true}'
    assert attempt["url"].endswith("/response") and attempt["durationMs"] >= 0 and attempt["errorClass"] is None
    assert api.get("/api/v1/webhook-messages/msg_nope").status_code == 404


def test_redeliver_sends_the_same_message_again(api, admin, two_alerts, receiver, run_jobs):
    msg_id = items(api, "?updateType=response")[0]["msgId"]
    response = api.post(f"/api/v1/webhook-messages/{msg_id}/redeliver")
    assert response.status_code == 202 and response.get_json()["status"] == "pending"
    run_jobs()
    receiver.wait_for(4)
    again = [r for r in receiver.requests if header(r, "webhook-id") == msg_id]
    assert len(again) == 2 and again[0]["body"] == again[1]["body"]
    shown = api.get(f"/api/v1/webhook-messages/{msg_id}").get_json()
    assert shown["status"] == "delivered" and len(shown["attempts"]) == 2
    assert api.post("/api/v1/webhook-messages/msg_nope/redeliver").status_code == 404


def test_redeliver_refuses_while_klaxon_has_the_url_disabled(api, admin, two_alerts):
    msg_id = items(api)[0]["msgId"]
    endpoint = db.session.query(UpdateEndpoint).filter_by(update_type="response").one()
    endpoint.disabled_at, endpoint.disabled_reason = utcnow(), "410 Gone"
    db.session.commit()
    response = api.post(f"/api/v1/webhook-messages/{msg_id}/redeliver")
    assert response.status_code == 409 and "410 Gone" in response.get_json()["message"]


@pytest.mark.parametrize("settings_env", [{"KLAXON_WEBHOOK_RETRY_SCHEDULE": "0"}])
def test_recover_redelivers_every_dead_message_since_a_time(api, client, run_jobs):
    with Receiver(script=[(500, {}, b"down")] * 3 + [(200, {}, b"ok")]) as receiver:
        config = updates_config(api, receiver)
        for n in range(3):
            trigger(client, config, {"subject": f"Disk full on db-{n}"})
        run_jobs()
        assert [m.status for m in webhook_messages()] == ["dead"] * 3
        old = webhook_messages()[0]
        old.created_at = utcnow() - timedelta(days=2)
        db.session.commit()
        since = iso(utcnow() - timedelta(days=1))
        response = api.post("/api/v1/webhook-messages/recover",
                            json={"configuration": config["uuid"], "updateType": "status", "since": since})
        assert response.status_code == 202 and response.get_json() == {"requeued": 2}
        drive(run_jobs, lambda: [m.status for m in webhook_messages()] == ["dead", "delivered", "delivered"])
        assert len(receiver.requests) == 5
    recovered = webhook_messages()[1]
    assert len(recovered.attempts_log) == 2 and [a.status_code for a in recovered.attempts_log] == [500, 200]


def test_recover_names_the_field_to_fix(api, admin, two_alerts):
    config = two_alerts[0]
    good = {"configuration": config["uuid"], "updateType": "status", "since": "2024-05-01T00:00:00Z"}
    for field, value in (("configuration", "nope"), ("updateType", "email"), ("since", "yesterday"),
                         ("since", None)):
        response = api.post("/api/v1/webhook-messages/recover", json={**good, field: value})
        assert response.status_code == 400 and response.get_json()["field"] == field
    response = api.post("/api/v1/webhook-messages/recover", json=good)
    assert response.status_code == 202 and response.get_json() == {"requeued": 0}
