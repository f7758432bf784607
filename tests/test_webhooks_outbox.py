"""The update webhook outbox: rows written with the change that caused them, a flushed Redis
recovered by the sweeper, rotation signing with both secrets, and the per-endpoint cap."""
import time
from datetime import timedelta

from alerting.alerts.lifecycle import change_status
from alerting.update_webhooks import post as delivery
from extensions import db
from models import Alert, UpdateEndpoint, utcnow
from runtime.queue import get_queue, redis_conn
from runtime.sweeper import sweep_once
from tests.support import drive, header, trigger, updates_config, verified, webhook_messages


def test_it_writes_the_message_with_the_change_and_queues_it_after_commit(api, client, receiver, run_jobs):
    config = updates_config(api, receiver)
    created = trigger(client, config)
    (message,) = webhook_messages()
    assert message.status == "pending" and message.update_type == "status" and message.attempts == 0
    assert message.alert_id == created["eventIdentifier"] and message.url == f"{receiver.url}/status"
    assert get_queue("webhooks").count == 1
    run_jobs()
    (request,) = receiver.wait_for(1)
    assert verified(request, config["signingSecret"])["status"] == "active"
    assert header(request, "webhook-id") == webhook_messages()[0].msg_id
    assert webhook_messages()[0].status == "delivered"


def test_a_rolled_back_change_leaves_no_message_and_no_job(api, client, receiver):
    config = updates_config(api, receiver)
    created = trigger(client, config)
    queued = get_queue("webhooks").count
    alert = db.session.get(Alert, created["eventIdentifier"])
    change_status(alert, "SUSPENDED", actor="bsmith")
    db.session.flush()
    assert len(webhook_messages()) == 2  # visible inside the transaction
    db.session.rollback()
    assert len(webhook_messages()) == 1
    assert db.session.get(Alert, created["eventIdentifier"]).status == "ACTIVE"
    assert get_queue("webhooks").count == queued


def test_it_writes_nothing_for_update_types_that_are_off(api, client, receiver, run_jobs):
    config = updates_config(api, receiver, types=("delivery",))
    trigger(client, config)
    run_jobs()
    assert webhook_messages() == [] and receiver.requests == []


def test_the_sweeper_delivers_everything_after_redis_is_flushed(api, client, receiver, run_jobs):
    config = updates_config(api, receiver)
    for n in range(3):
        trigger(client, config, {"subject": f"Disk full on db-{n}"})
    assert len(webhook_messages(status="pending")) == 3
    redis_conn().flushdb()  # this test's db only: FLUSHALL would empty the other xdist workers' too
    run_jobs()
    assert receiver.requests == [] and len(webhook_messages(status="pending")) == 3
    handled = sweep_once()
    assert handled["alerting.update_webhooks.outbox.sweep"] == 3
    run_jobs()
    receiver.wait_for(3)
    assert [m.status for m in webhook_messages()] == ["delivered"] * 3
    ids = {header(r, "webhook-id") for r in receiver.requests}
    assert ids == {m.msg_id for m in webhook_messages()}


def test_the_sweeper_leaves_leased_and_future_messages_alone(api, client, receiver):
    config = updates_config(api, receiver)
    trigger(client, config)
    trigger(client, config, {"subject": "second"})
    first, second = webhook_messages()
    first.locked_until = utcnow().replace(year=2100)
    second.next_attempt_at = utcnow().replace(year=2100)
    db.session.commit()
    redis_conn().flushdb()  # this test's db only: FLUSHALL would empty the other xdist workers' too
    assert sweep_once()["alerting.update_webhooks.outbox.sweep"] == 0
    assert get_queue("webhooks").count == 0


def test_it_signs_with_the_old_and_new_secret_during_rotation(api, client, receiver, run_jobs):
    config = updates_config(api, receiver)
    rotated = api.post(f"/api/v1/configurations/{config['uuid']}/rotate-secret").get_json()
    new_secret, old_secret = rotated["signingSecrets"]
    assert old_secret == config["signingSecret"] and new_secret != old_secret
    trigger(client, config)
    run_jobs()
    (request,) = receiver.wait_for(1)
    assert len(header(request, "webhook-signature").split(" ")) == 2
    assert verified(request, old_secret) == verified(request, new_secret)


def test_an_endpoint_at_its_concurrency_cap_is_retried_shortly_without_blocking(api, client, receiver, run_jobs,
                                                                                    app):
    config = updates_config(api, receiver)
    trigger(client, config)
    (message,) = webhook_messages()
    endpoint_id = message.endpoint_id
    held = [delivery.take_slot(endpoint_id) for _ in range(app.config["KLAXON"].endpoint_concurrency)]
    assert all(held) and delivery.take_slot(endpoint_id) is None
    started, before = time.monotonic(), utcnow()
    run_jobs(rounds=1)
    assert time.monotonic() - started < 2  # the job gave up its turn instead of waiting
    (message,) = webhook_messages()
    # deferred by 0.5-2 s from when the job ran (compared with the time before it ran: a slow
    # machine may already have passed the due time when the test reads it)
    assert message.status == "pending" and message.attempts == 0
    assert message.next_attempt_at >= before + timedelta(seconds=0.5)
    assert receiver.requests == []
    for token in held:
        delivery.give_back_slot(endpoint_id, token)
    drive(run_jobs, lambda: webhook_messages()[0].status == "delivered")
    assert len(receiver.requests) == 1


def test_messages_for_an_endpoint_klaxon_disabled_are_kept_as_skipped(api, client, receiver, run_jobs):
    config = updates_config(api, receiver)
    endpoint = db.session.query(UpdateEndpoint).filter_by(update_type="status").one()
    endpoint.disabled_at, endpoint.disabled_reason = utcnow(), "410 Gone"
    db.session.commit()
    trigger(client, config)
    run_jobs()
    assert [m.status for m in webhook_messages()] == ["skipped"] and receiver.requests == []
    response = api.patch(f"/api/v1/configurations/{config['uuid']}",
                         json={"updates": {"status": {"enabled": True, "url": f"{receiver.url}/status"}}})
    assert response.status_code == 200 and response.get_json()["updates"]["status"]["disabledAt"] is None
    run_jobs()
    receiver.wait_for(1)
    assert [m.status for m in webhook_messages()] == ["delivered"]
