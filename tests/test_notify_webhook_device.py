"""Webhook devices: an alert through the integration URL reaches a real HTTP receiver, with retries,
de-duplication per device, the sweeper's recovery and the device test button."""
import time
from datetime import timedelta

import pytest

from alerting.notifications import dispatch as notify
from extensions import db
from models import Alert, Device, Group, GroupMember, Notification, TimelineEntry, User, utcnow
from runtime.queue import redis_conn
from runtime.sweeper import sweep_once
from tests.support import Receiver, add_user, alert_json, hook, notify_config, person, trigger


def test_it_posts_the_alert_to_a_webhook_device(api, client, run_jobs, receiver):
    add_user(api, "bsmith", [hook(receiver, "Ops hook", "bob")])
    created = trigger(client, notify_config(api, [person("bsmith")]))
    run_jobs()
    (request,) = receiver.wait_for(1)
    body = receiver.json_bodies()[0]
    assert request["path"] == "/bob" and request["headers"]["Content-Type"] == "application/json"
    assert body["subjectLine"] == "[HIGH] Prod Monitoring: Disk full on db-1"
    assert body["eventIdentifier"] == created["eventIdentifier"] and body["alertId"] == created["alertId"]
    assert body["properties"] == {"Summary": "Disk full on db-1", "Host": "db-1"}
    assert body["recipient"] == "bsmith" and body["device"] == "Ops hook"
    assert [r["text"] for r in body["responses"]] == ["Acknowledge", "Resolve"]
    assert all(r["url"].startswith("http://klaxon.test/respond/") for r in body["responses"])
    alert = alert_json(api, created["alertId"])
    (note,) = alert["notifications"]
    assert note["deliveryStatus"] == "Delivered" and note["attempts"] == 1 and note["result"] == "HTTP 200"
    assert [t["type"] for t in alert["timeline"]] == ["EVENT_CREATED", "NOTIFICATION_DELIVERED"]
    assert db.session.get(Alert, created["eventIdentifier"]).first_delivered_at is not None


def test_it_notifies_each_enabled_device_once_however_often_it_is_named(api, client, run_jobs, receiver):
    add_user(api, "bsmith", [hook(receiver, "Hook A", "a"), hook(receiver, "Hook B", "b"),
                             hook(receiver, "Off", "off", enabled=False)])
    add_user(api, "jdoe", [hook(receiver, "Hook", "jdoe")])
    for name in ("Ops", "DBA"):
        api.post("/api/v1/groups", json={"name": name, "members": ["bsmith", "jdoe"]})
    config = notify_config(api, [person("bsmith"), {"id": "Ops", "recipientType": "GROUP"},
                               {"id": "DBA", "recipientType": "GROUP"},
                               {"id": "jdoe|Hook", "recipientType": "DEVICE"}])
    created = trigger(client, config)
    run_jobs()
    receiver.wait_for(3)
    time.sleep(0.2)
    assert sorted(r["path"] for r in receiver.requests) == ["/a", "/b", "/jdoe"]
    notes = alert_json(api, created["alertId"])["notifications"]
    assert sorted((n["recipient"], n["device"]) for n in notes) == [
        ("bsmith", "Hook A"), ("bsmith", "Hook B"), ("jdoe", "Hook")]


def test_it_notifies_only_the_named_device(api, client, run_jobs, receiver):
    add_user(api, "bsmith", [hook(receiver, "Work", "work"), hook(receiver, "Home", "home")])
    trigger(client, notify_config(api, [{"id": "bsmith|Home", "recipientType": "DEVICE"}]))
    run_jobs()
    receiver.wait_for(1)
    time.sleep(0.2)
    assert [r["path"] for r in receiver.requests] == ["/home"]


def test_it_retries_a_server_error_then_delivers(api, client, run_jobs):
    with Receiver(script=[(503, {}, b"busy"), (200, {}, b"ok")]) as flaky:
        add_user(api, "bsmith", [hook(flaky, "Hook")])
        created = trigger(client, notify_config(api, [person("bsmith")]))
        run_jobs()
        flaky.wait_for(2)
    (note,) = alert_json(api, created["alertId"])["notifications"]
    assert note["deliveryStatus"] == "Delivered" and note["attempts"] == 2


def test_it_fails_a_client_error_at_once_and_says_why(api, client, run_jobs):
    with Receiver(script=[(404, {}, b"no such hook")]) as gone:
        add_user(api, "bsmith", [hook(gone, "Hook")])
        created = trigger(client, notify_config(api, [person("bsmith")]))
        run_jobs()
        gone.wait_for(1)
    alert = alert_json(api, created["alertId"])
    (note,) = alert["notifications"]
    assert note["deliveryStatus"] == "Failed" and note["attempts"] == 1 and "HTTP 404" in note["result"]
    failed = [t for t in alert["timeline"] if t["type"] == "NOTIFICATION_FAILED"]
    assert failed and "HTTP 404" in failed[0]["detail"]["error"]


def test_it_gives_up_after_the_retry_schedule(api, client, run_jobs):
    with Receiver(script=[(500, {}, b"broken")]) as broken:
        add_user(api, "bsmith", [hook(broken, "Hook")])
        created = trigger(client, notify_config(api, [person("bsmith")]))
        run_jobs(rounds=10)
        time.sleep(0.2)
        assert len(broken.requests) == 3  # KLAXON_NOTIFY_RETRY_SCHEDULE=0,0,0 in the tests
    (note,) = alert_json(api, created["alertId"])["notifications"]
    assert note["deliveryStatus"] == "Failed" and note["attempts"] == 3 and "HTTP 500" in note["result"]


def set_status_before_dispatch(api, client, run_jobs, receiver, status):
    """An alert for bsmith (a webhook device at ``receiver``) set to ``status`` before its jobs and sweeps run."""
    add_user(api, "bsmith", [hook(receiver, "Hook")])
    created = trigger(client, notify_config(api, [person("bsmith")]))
    api.post(f"/api/v1/alerts/{created['alertId']}/status", json={"status": status})
    run_jobs()
    sweep_once(utcnow() + timedelta(seconds=30))
    return created


def test_a_suspended_alert_notifies_no_one_until_it_is_resumed(api, client, run_jobs, receiver):
    created = set_status_before_dispatch(api, client, run_jobs, receiver, "SUSPENDED")
    assert receiver.requests == []
    api.post(f"/api/v1/alerts/{created['alertId']}/status", json={"status": "ACTIVE"})
    sweep_once(utcnow() + timedelta(seconds=30))
    receiver.wait_for(1)


def test_a_terminated_alert_notifies_no_one(api, client, run_jobs, receiver):
    set_status_before_dispatch(api, client, run_jobs, receiver, "TERMINATED_EXTERNAL")
    assert receiver.requests == [] and db.session.query(Notification).count() == 0


def test_the_sweeper_dispatches_an_alert_whose_job_was_lost(api, client, run_jobs, receiver):
    add_user(api, "bsmith", [hook(receiver, "Hook")])
    trigger(client, notify_config(api, [person("bsmith")]))
    redis_conn().flushdb()  # the dispatch job is gone
    run_jobs()
    assert receiver.requests == []
    sweep_once(utcnow() + timedelta(seconds=10))
    receiver.wait_for(1)
    sweep_once(utcnow() + timedelta(seconds=20))
    time.sleep(0.2)
    assert len(receiver.requests) == 1


def test_the_sweeper_resends_what_a_killed_worker_left_and_only_once(api, client, run_jobs, receiver):
    add_user(api, "bsmith", [hook(receiver, "Hook")])
    created = trigger(client, notify_config(api, [person("bsmith")]))
    redis_conn().flushdb()
    # a worker resolved the recipients and wrote the row, then died before sending
    alert = db.session.get(Alert, created["eventIdentifier"])
    user = db.session.query(User).filter_by(username="bsmith").one()
    device = user.devices[0]
    alert.dispatched_at = utcnow()
    note = Notification(alert_id=alert.id, user_id=user.id, device_id=device.id, recipient="bsmith",
                        device_name=device.name, kind="webhook", status="Queued", locked_until=utcnow())
    db.session.add(note)
    db.session.commit()
    note_id, later = note.id, utcnow() + timedelta(seconds=10)
    assert notify.claim(note_id, later, later) is True
    assert notify.claim(note_id, later, later) is False  # a second worker cannot take it too
    db.session.rollback()
    sweep_once(utcnow() + timedelta(seconds=10))
    receiver.wait_for(1)
    sweep_once(utcnow() + timedelta(seconds=20))
    time.sleep(0.2)
    assert len(receiver.requests) == 1
    assert db.session.get(Notification, note_id).status == "Delivered"


def test_it_notifies_a_large_group_quickly(app, api, client, run_jobs, receiver):
    group = Group(name="Everyone", mode="all-at-once")
    for i in range(300):
        user = User(username=f"user{i}")
        user.devices = [Device(name="Hook", kind="webhook", target=f"{receiver.url}/u{i}")]
        group.members.append(GroupMember(user=user, position=i))
    db.session.add(group)
    db.session.commit()
    created = trigger(client, notify_config(api, [{"id": "Everyone", "recipientType": "GROUP"}]))
    started = time.monotonic()
    run_jobs()
    receiver.wait_for(300, timeout=30)
    assert time.monotonic() - started < 15
    delivered = db.session.query(Notification).filter_by(alert_id=created["eventIdentifier"],
                                                         status="Delivered").count()
    assert delivered == 300
    entries = db.session.query(TimelineEntry).filter_by(type="NOTIFICATION_DELIVERED").count()
    assert entries == 300


@pytest.mark.parametrize("script, ok, words", [([(200, {}, b"ok")], True, "HTTP 200"),
                                                ([(500, {}, b"no")], False, "HTTP 500")])
def test_the_device_test_sends_straight_away_without_an_alert(api, script, ok, words):
    with Receiver(script=script) as target:
        device_id = add_user(api, "bsmith", [hook(target, "Hook")])["devices"][0]["deviceId"]
        response = api.post(f"/api/v1/users/bsmith/devices/{device_id}/test")
        assert response.status_code == 200
        assert response.get_json()["ok"] is ok and words in response.get_json()["result"]
        body = target.json_bodies()[0]
    assert body["subject"] == "Test notification to Hook" and body["responses"] == []
    assert db.session.query(Notification).count() == 0 and db.session.query(Alert).count() == 0
    assert api.post("/api/v1/users/bsmith/devices/99999/test").status_code == 404
