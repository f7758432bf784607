"""Escalate-in-order groups: the next member only when no one stopped it, ESCALATE now, and a lost
scheduled job recovered by the sweeper."""
import time
from datetime import timedelta

from extensions import db
from models import AlertTarget, utcnow
from runtime.queue import redis_conn
from runtime.sweeper import sweep_once
from tests.support import add_user, alert_json, hook, notify_config, trigger, wait_until

DELAY_MINUTES = 0.02  # 1.2 s
# Tests that respond (or end the alert) before the next step need the step not to be due yet when
# they act: 3 s, so a first dispatch slowed by a loaded machine cannot outlast the delay.
ACT_FIRST_DELAY_MINUTES = 0.05
OPTIONS = [{"text": "Acknowledge", "action": "STOP_NOTIFYING_USER"},
           {"text": "Noted", "action": "RECORD_RESPONSE"},
           {"text": "Pass it on", "action": "ESCALATE"},
           {"text": "Not my team", "action": "STOP_NOTIFYING_TARGET"}]


def setup_team(api, client, receiver, delay=DELAY_MINUTES):
    for name in ("alice", "bob", "carol"):
        add_user(api, name, [hook(receiver, "Hook", name)])
    api.post("/api/v1/groups", json={"name": "DBA", "members": ["alice", "bob", "carol"],
                                     "mode": "escalate-in-order", "escalationDelayMinutes": delay})
    config = notify_config(api, [{"id": "DBA", "recipientType": "GROUP"}], options=OPTIONS)
    return trigger(client, config)


def paths(receiver):
    with receiver.lock:
        return [r["path"] for r in receiver.requests]


def run_until(run_jobs, receiver, wanted, timeout=10):
    def reached():
        run_jobs()
        return paths(receiver) == wanted
    wait_until(reached, timeout, interval=0.2, message=f"notifications to {wanted}")


def after_the_delay(run_jobs, minutes=DELAY_MINUTES):
    deadline = time.monotonic() + minutes * 60 + 0.5
    while time.monotonic() < deadline:
        run_jobs()
        time.sleep(0.2)


def respond(api, alert_id, recipient, option):
    response = api.post(f"/api/v1/alerts/{alert_id}/responses", json={"recipient": recipient, "response": option})
    assert response.status_code == 201, response.get_json()


def test_it_notifies_the_next_member_only_when_no_one_responds(api, client, run_jobs, receiver):
    created = setup_team(api, client, receiver)
    run_jobs()
    receiver.wait_for(1)
    assert paths(receiver) == ["/alice"]
    run_until(run_jobs, receiver, ["/alice", "/bob"])
    run_until(run_jobs, receiver, ["/alice", "/bob", "/carol"])
    escalated = [t for t in alert_json(api, created["alertId"])["timeline"] if t["type"] == "EVENT_ESCALATED"]
    assert [t["detail"]["recipient"] for t in escalated] == ["bob", "carol"]
    target = db.session.query(AlertTarget).one()
    assert target.state == "done" and target.next_at is None


def test_a_stopping_response_stops_the_escalation(api, client, run_jobs, receiver):
    created = setup_team(api, client, receiver, delay=ACT_FIRST_DELAY_MINUTES)
    run_jobs()
    receiver.wait_for(1)
    respond(api, created["alertId"], "alice", "Acknowledge")
    after_the_delay(run_jobs, ACT_FIRST_DELAY_MINUTES)
    sweep_once(utcnow() + timedelta(seconds=60))
    assert paths(receiver) == ["/alice"]
    assert db.session.query(AlertTarget).one().state == "stopped"


def test_stop_notifying_target_stops_it_too(api, client, run_jobs, receiver):
    created = setup_team(api, client, receiver, delay=ACT_FIRST_DELAY_MINUTES)
    run_jobs()
    receiver.wait_for(1)
    respond(api, created["alertId"], "alice", "Not my team")
    after_the_delay(run_jobs, ACT_FIRST_DELAY_MINUTES)
    assert paths(receiver) == ["/alice"]


def test_a_recorded_response_does_not_stop_it(api, client, run_jobs, receiver):
    created = setup_team(api, client, receiver)
    run_jobs()
    receiver.wait_for(1)
    respond(api, created["alertId"], "alice", "Noted")
    run_until(run_jobs, receiver, ["/alice", "/bob"])


def test_escalate_notifies_the_next_member_now(api, client, run_jobs, receiver):
    created = setup_team(api, client, receiver, delay=60)
    run_jobs()
    receiver.wait_for(1)
    respond(api, created["alertId"], "alice", "Pass it on")
    run_jobs()
    receiver.wait_for(2)
    assert paths(receiver) == ["/alice", "/bob"]
    target = db.session.query(AlertTarget).one()
    assert target.state == "active" and target.next_position == 2
    assert target.next_at > utcnow() + timedelta(minutes=59)  # carol waits the full delay again


def test_the_sweeper_recovers_a_lost_scheduled_job(api, client, run_jobs, receiver):
    setup_team(api, client, receiver)
    run_jobs()
    receiver.wait_for(1)
    redis_conn().flushdb()  # Redis lost the scheduled escalation
    after_the_delay(run_jobs)
    assert paths(receiver) == ["/alice"]
    sweep_once(utcnow() + timedelta(seconds=10))
    receiver.wait_for(2)
    assert paths(receiver) == ["/alice", "/bob"]


def test_ending_the_alert_ends_the_escalation(api, client, run_jobs, receiver):
    created = setup_team(api, client, receiver, delay=ACT_FIRST_DELAY_MINUTES)
    run_jobs()
    receiver.wait_for(1)
    api.post(f"/api/v1/alerts/{created['alertId']}/status", json={"status": "TERMINATED_EXTERNAL"})
    after_the_delay(run_jobs, ACT_FIRST_DELAY_MINUTES)
    sweep_once(utcnow() + timedelta(seconds=60))
    assert paths(receiver) == ["/alice"]
