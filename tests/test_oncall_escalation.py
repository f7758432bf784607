"""An on-call group's escalation, in-process (SPEC §9, §3): the timeline of the active shift with its
delays (minutes shortened by KLAXON_MINUTE_SECONDS), repeat, a stopping response, the fallback, a
targeted-recipient failure, ALERT rotation from the counter, and the sweeper taking a lost step."""
from __future__ import annotations

import time
from datetime import timedelta

import pytest

from alerting import jobs
from extensions import db
from models import AlertTarget, Shift, utcnow
from runtime.queue import QUEUES, get_queue, redis_conn
from runtime.sweeper import sweep_once
from runtime.worker import PromptWorker
from tests.support import add_user, alert_json, hook, notify_config, trigger, wait_until

MINUTE = 0.5  # seconds


@pytest.fixture
def settings_env():
    return {"KLAXON_MINUTE_SECONDS": str(MINUTE)}


def always(timeline, rotation=None, repeat=None, name="Always"):
    """A shift covering every instant (whole days back to back, from 2026-01-01)."""
    shift = {"name": name, "start": "2026-01-01T00:00", "end": "2026-01-02T00:00", "recurrence": {"frequency": "DAILY"},
             "timeline": timeline}
    return {**shift, **({"rotation": rotation} if rotation else {}), **({"repeat": repeat} if repeat else {})}


def team(api, receiver, shifts, fallback=(), people=("alice", "bob", "carol", "lead")):
    for name in people:
        add_user(api, name, [hook(receiver, "Hook", name)])
    created = api.post("/api/v1/groups", json={"name": "Ops", "shifts": shifts, "fallback": list(fallback)})
    assert created.status_code == 201, created.get_json()
    return notify_config(api, [{"id": "Ops", "recipientType": "GROUP"}])


def paths(receiver):
    with receiver.lock:
        return [r["path"] for r in receiver.requests]


def drive_until(run_jobs, receiver, wanted, timeout=15):
    """Run jobs until the receiver has exactly ``wanted`` (in any order: one wave is sent in parallel)."""
    def reached():
        run_jobs(rounds=1)
        return sorted(paths(receiver)) == sorted(wanted)
    try:
        wait_until(reached, timeout, interval=0.1, message=f"notifications to {wanted}")
    except AssertionError as exc:  # what the receiver had at the end, not at the start
        raise AssertionError(f"{exc}, got {paths(receiver)}") from None


def dispatch_only(receiver):
    """Run the one job queued, the alert's dispatch (the first step), and no other: the job of the
    next step that it queues stays in Redis, even when that step was already due as it was queued
    (under load the dispatch alone can outlast a short delay; run_jobs would then take it too)."""
    assert [job.func_name for job in get_queue("notify").get_jobs()] == [jobs.DISPATCH_PENDING.function]
    PromptWorker(list(QUEUES), connection=redis_conn()).work(burst=True, max_jobs=1, logging_level="WARNING")
    return paths(receiver)


def keep_running(run_jobs, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run_jobs(rounds=1)
        time.sleep(0.1)


def escalated(api, alert_id):
    return [(t["detail"]["shift"], t["detail"]["level"], t["detail"]["round"], t["detail"]["recipients"])
            for t in alert_json(api, alert_id)["timeline"] if t["type"] == "EVENT_ESCALATED"]


def test_the_timeline_pages_wave_by_wave_with_its_delays(api, client, run_jobs, receiver):
    timeline = [{"member": "alice"}, {"member": "bob"}, {"member": "carol", "delayMinutes": 6}]
    cfg = team(api, receiver, [always(timeline)])
    started = time.monotonic()
    alert = trigger(client, cfg)
    # alice and bob together: the alert's one dispatch job pages the whole first wave
    assert sorted(dispatch_only(receiver)) == ["/alice", "/bob"]
    drive_until(run_jobs, receiver, ["/alice", "/bob", "/carol"])
    # carol after the delay (escalation.EARLY lets a step start up to a second before it is due)
    assert time.monotonic() - started >= 6 * MINUTE - 1
    assert escalated(api, alert["alertId"]) == [("Always", 1, 0, ["alice", "bob"]), ("Always", 2, 0, ["carol"])]
    assert db.session.query(AlertTarget).one().state == "done"


def test_repeat_restarts_the_timeline_then_stops(api, client, run_jobs, receiver):
    cfg = team(api, receiver, [always([{"member": "alice"}, {"member": "bob", "delayMinutes": 1}],
                                      repeat={"afterMinutes": 1, "times": 2})])
    alert = trigger(client, cfg)
    drive_until(run_jobs, receiver, ["/alice", "/bob"] * 3)
    keep_running(run_jobs, 3 * MINUTE)
    assert sorted(paths(receiver)) == sorted(["/alice", "/bob"] * 3)
    assert [(lvl, rnd) for _, lvl, rnd, _ in escalated(api, alert["alertId"])] == [(1, 0), (2, 0), (1, 1), (2, 1),
                                                                                     (1, 2), (2, 2)]


def test_a_stopping_response_ends_the_group_escalation(api, client, run_jobs, receiver):
    cfg = team(api, receiver, [always([{"member": "alice"}, {"member": "bob", "delayMinutes": 2}],
                                      repeat={"afterMinutes": 1, "times": 3})])
    alert = trigger(client, cfg)
    assert dispatch_only(receiver) == ["/alice"]  # bob's step cannot run before the response
    assert api.post(f"/api/v1/alerts/{alert['alertId']}/responses",
                    json={"recipient": "alice", "response": "Acknowledge"}).status_code == 201
    keep_running(run_jobs, 4 * MINUTE)
    sweep_once(utcnow() + timedelta(seconds=30))
    assert paths(receiver) == ["/alice"] and db.session.query(AlertTarget).one().state == "stopped"


def test_nobody_available_brings_the_fallback_and_then_a_failure(api, client, run_jobs, receiver):
    cfg = team(api, receiver, [always([{"member": "alice"}])], fallback=["lead"])
    api.patch("/api/v1/users/alice", json={"active": False})
    alert = trigger(client, cfg)
    drive_until(run_jobs, receiver, ["/lead"])
    assert escalated(api, alert["alertId"]) == [(None, 1, 0, ["lead"])]
    api.patch("/api/v1/users/lead", json={"active": False})
    failed = trigger(client, cfg)
    run_jobs()
    entries = [t for t in alert_json(api, failed["alertId"])["timeline"] if t["type"] == "RECIPIENT_FAILED"]
    assert [e["detail"]["recipient"] for e in entries] == ["Ops"] and "no fallback" in entries[0]["detail"]["reason"]


def test_alert_rotation_takes_the_next_position_per_alert(api, client, run_jobs, receiver):
    cfg = team(api, receiver, [always([{"member": "alice"}, {"member": "bob", "delayMinutes": 60},
                                       {"member": "carol", "delayMinutes": 60}],
                                      rotation={"direction": "SECOND_TO_FIRST", "every": "ALERT"})])
    firsts = []
    for _ in range(4):
        on_call = api.get("/api/v1/groups/Ops/on-call").get_json()["shifts"][0]["timeline"][0]["username"]
        trigger(client, cfg)
        run_jobs()
        receiver.wait_for(len(firsts) + 1)
        firsts.append(paths(receiver)[-1].strip("/"))
        assert firsts[-1] == on_call  # what on-call said is who was paged
    assert firsts == ["alice", "bob", "carol", "alice"]
    assert db.session.query(Shift.alert_sequence).scalar() == 4


def test_the_sweeper_takes_a_step_whose_bell_was_lost(api, client, run_jobs, receiver):
    cfg = team(api, receiver, [always([{"member": "alice"}, {"member": "bob", "delayMinutes": 2}])])
    trigger(client, cfg)
    assert dispatch_only(receiver) == ["/alice"]
    redis_conn().flushdb()  # the job of bob's step (scheduled, or queued if already due) is gone from Redis
    keep_running(run_jobs, 2 * MINUTE + 0.5)
    assert paths(receiver) == ["/alice"]
    sweep_once(utcnow() + timedelta(seconds=10))
    receiver.wait_for(2)
    assert paths(receiver) == ["/alice", "/bob"]


def test_a_group_without_shifts_escalates_as_before(api, client, run_jobs, receiver):
    for name in ("alice", "bob"):
        add_user(api, name, [hook(receiver, "Hook", name)])
    api.post("/api/v1/groups", json={"name": "Old", "members": ["alice", "bob"], "mode": "escalate-in-order",
                                     "escalationDelayMinutes": 0.01})
    trigger(client, notify_config(api, [{"id": "Old", "recipientType": "GROUP"}]))
    drive_until(run_jobs, receiver, ["/alice", "/bob"])
    assert db.session.query(AlertTarget).one().state == "done"
