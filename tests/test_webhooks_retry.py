"""Retrying update webhooks against real receivers: same webhook-id with fresh signatures, redirects
not followed, 410 disabling the URL, Retry-After honoured, dead after the schedule, and an endpoint
failing for days disabled with the admins emailed."""
import dataclasses
from datetime import timedelta

import pytest

from extensions import db
from models import TimelineEntry, UpdateEndpoint, utcnow
from tests.support import Receiver, drive, header, trigger, updates_config, verified, webhook_messages


def timeline(alert_id):
    return [t.type for t in db.session.query(TimelineEntry).filter_by(alert_id=alert_id).order_by(TimelineEntry.id)]


def test_a_failed_message_is_retried_with_the_same_id_and_a_fresh_signature(api, client, run_jobs):
    with Receiver(script=[(500, {}, b"busy"), (200, {}, b"ok")]) as receiver:
        config = updates_config(api, receiver)
        created = trigger(client, config)
        drive(run_jobs, lambda: webhook_messages()[0].status == "delivered")
    first, second = receiver.requests
    assert header(first, "webhook-id") == header(second, "webhook-id") == webhook_messages()[0].msg_id
    assert header(first, "webhook-timestamp") != header(second, "webhook-timestamp")
    assert header(first, "webhook-signature") != header(second, "webhook-signature")
    assert verified(first, config["signingSecret"]) == verified(second, config["signingSecret"])
    (message,) = webhook_messages()
    assert message.attempts == 2 and [a.status_code for a in message.attempts_log] == [500, 200]
    assert message.attempts_log[0].response_body == "busy"
    assert timeline(created["eventIdentifier"])[-1] == "WEBHOOK_DELIVERED"
    endpoint = message.endpoint
    assert endpoint.last_success_at is not None and endpoint.failing_since is None


@pytest.mark.parametrize("settings_env", [{"KLAXON_WEBHOOK_RETRY_SCHEDULE": "0,1"}])
def test_it_does_not_follow_redirects(api, client, run_jobs):
    with Receiver() as elsewhere, \
            Receiver(script=[(301, {"Location": f"{elsewhere.url}/moved"}, b"")]) as receiver:
        trigger(client, updates_config(api, receiver))
        drive(run_jobs, lambda: webhook_messages()[0].status == "dead")
        assert len(receiver.requests) == 2 and elsewhere.requests == []
    assert [a.status_code for a in webhook_messages()[0].attempts_log] == [301, 301]


def test_a_410_disables_the_update_url_until_it_is_enabled_again(api, client, run_jobs):
    with Receiver(script=[(410, {}, b"gone"), (200, {}, b"ok")]) as receiver:
        config = updates_config(api, receiver)
        created = trigger(client, config)
        drive(run_jobs, lambda: webhook_messages()[0].status == "dead")
        shown = api.get(f"/api/v1/configurations/{config['uuid']}").get_json()["updates"]["status"]
        assert shown["disabledAt"] and shown["disabledReason"] == "410 Gone" and shown["enabled"]
        assert timeline(created["eventIdentifier"])[-1] == "WEBHOOK_FAILED"
        api.post(f"/api/v1/alerts/{created['alertId']}/status", json={"status": "SUSPENDED"})
        run_jobs()
        assert [m.status for m in webhook_messages()] == ["dead", "skipped"] and len(receiver.requests) == 1
        api.patch(f"/api/v1/configurations/{config['uuid']}",
                  json={"updates": {"status": {"enabled": True, "url": f"{receiver.url}/status"}}})
        drive(run_jobs, lambda: webhook_messages()[1].status == "delivered")
        assert verified(receiver.requests[1], config["signingSecret"])["status"] == "suspended"
    assert webhook_messages()[0].status == "dead"


def test_it_waits_as_long_as_retry_after_says(api, client, run_jobs):
    with Receiver(script=[(429, {"Retry-After": "2"}, b"slow down"), (200, {}, b"ok")]) as receiver:
        trigger(client, updates_config(api, receiver))
        drive(run_jobs, lambda: webhook_messages()[0].status == "delivered")
    first, second = receiver.requests
    assert second["at"] - first["at"] >= 2.0
    assert header(first, "webhook-id") == header(second, "webhook-id")


@pytest.mark.parametrize("settings_env", [{"KLAXON_WEBHOOK_RETRY_SCHEDULE": "0,1,1"}])
def test_a_message_is_dead_after_the_last_attempt(api, client, run_jobs):
    with Receiver(script=[(500, {}, b"down")]) as receiver:
        created = trigger(client, updates_config(api, receiver))
        drive(run_jobs, lambda: webhook_messages()[0].status == "dead")
        run_jobs()
        assert len(receiver.requests) == 3
    (message,) = webhook_messages()
    assert message.attempts == 3 and message.last_status_code == 500
    assert timeline(created["eventIdentifier"])[-1] == "WEBHOOK_FAILED"
    assert message.endpoint.failing_since is not None and message.endpoint.disabled_at is None


def test_it_records_connection_errors_by_class(api, client, run_jobs):
    with Receiver() as receiver:
        config = updates_config(api, receiver)
    trigger(client, config)  # the receiver is closed now: nothing listens on its port
    run_jobs(rounds=1)
    (attempt,) = webhook_messages()[0].attempts_log
    assert attempt.status_code is None and attempt.error_class == "connection_refused"
    assert webhook_messages()[0].status == "pending"


def test_an_endpoint_failing_for_days_is_disabled_and_the_admins_are_emailed(api, client, run_jobs, app,
                                                                           smtp_server):
    app.config["KLAXON"] = dataclasses.replace(app.config["KLAXON"], smtp_url=smtp_server.url)
    for username, role in (("ada", "admin"), ("bob", "responder")):
        api.post("/api/v1/users", json={"username": username, "role": role, "devices": [
            {"name": "Work Email", "kind": "email", "target": f"{username}@example.com"}]})
    with Receiver(script=[(500, {}, b"down")]) as receiver:
        config = updates_config(api, receiver)
        endpoint = db.session.query(UpdateEndpoint).filter_by(update_type="status").one()
        endpoint.failing_since = utcnow() - timedelta(days=6)
        db.session.commit()
        trigger(client, config)
        run_jobs(rounds=1)
        assert len(receiver.requests) == 1
    (mail,) = smtp_server.wait_for(1)
    assert mail["to"] == ["ada@example.com"]
    assert "Update webhook disabled: Monitoring (status)" in mail["email"]["Subject"]
    shown = api.get(f"/api/v1/configurations/{config['uuid']}").get_json()["updates"]["status"]
    assert shown["disabledAt"] and shown["disabledReason"].startswith("failing since")
    assert [m.status for m in webhook_messages()] == ["skipped"]
