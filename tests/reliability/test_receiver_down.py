"""An update receiver down for a while, then up: every pending update arrives, each alert's
updates can be put back in order by their ``date``, and a message that went ``dead`` is not
sent again until someone redelivers it.

The outage tests share one live server; the dead-message test (last) has one of its own, with
the short schedule. A failed attempt waits for its retry (or, when that job is lost, for the
sweeper, which queues a message again at most once a lease): the lease here is 8 s, not 30 s.
"""
import itertools
import json
import time
from datetime import UTC, datetime

import pytest
import requests

from tests.reliability.faults import ReceiverAt
from tests.reliability.shared_serve import shared_serve
from tests.support import free_port, wait_until

pytestmark = pytest.mark.slow
ALERTS = 5
CHANGES = ("SUSPENDED", "ACTIVE", "TERMINATED_EXTERNAL")
ORDER = ["active", "suspended", "active", "terminated_external"]
LONG_SCHEDULE = ",".join(["0"] + ["1"] * 23)  # 24 attempts: at least 11.5 s of retrying
SHORT_SCHEDULE = "0,1"  # 2 attempts: dead within about a second
# Production's 30 s lease keeps a worker killed mid-post from being raced; no worker is killed here
# and an attempt takes milliseconds, so 8 s still leaves no second worker taking a message in flight.
LEASE = {"KLAXON_WEBHOOK_LEASE_SECONDS": "8"}


@pytest.fixture(scope="module")
def shared(request, tmp_path_factory, live_database, template_database):
    yield from shared_serve(request, tmp_path_factory, live_database, template_database)


def alert_with_changes(klaxon, cfg, seq):
    """One alert and three status changes: four status updates, in a known order."""
    created = requests.post(klaxon.trigger_url(cfg), json={"properties": {"Summary": f"down #{seq}"}}, timeout=10)
    assert created.status_code == 202, created.text
    for status in CHANGES:
        time.sleep(0.01)  # distinct millisecond dates
        klaxon.call("POST", f"/api/v1/alerts/{created.json()['alertId']}/status", json={"status": status}, expect=200)
    return created.json()["eventIdentifier"]


def arrivals(receiver):
    """[(eventIdentifier, status, date, webhook-id)] in arrival order."""
    found = []
    for request in receiver.requests:
        body = json.loads(request["body"])
        headers = {k.lower(): v for k, v in request["headers"].items()}
        found.append((body["eventIdentifier"], body["status"], body["date"], headers["webhook-id"]))
    return found


def all_in(klaxon, cfg, status, count):
    """The configuration's messages when there are ``count`` and all have ``status``, else None."""
    messages = klaxon.messages(configuration=cfg["uuid"])
    return messages if len(messages) == count and all(m["status"] == status for m in messages) else None


def inversions(statuses):
    return sum(1 for a, b in itertools.pairwise(statuses) if ORDER.index(a) > ORDER.index(b))


def updates_after_an_outage(shared, alerts, down_for):
    """Post ``alerts`` alerts with three changes each while the receiver is down, keep it down
    ``down_for`` more seconds after the first update of every alert failed twice, bring it up and wait for everything.
    Returns (the alerts' eventIdentifiers, arrivals, the messages)."""
    port = free_port()
    # two RQ workers: "arrives once" and "in order" hold with two workers taking the alerts' messages
    klaxon = shared(env={"KLAXON_WEBHOOK_RETRY_SCHEDULE": LONG_SCHEDULE, **LEASE}, workers=2)
    cfg = klaxon.configuration(updates={"status": f"http://127.0.0.1:{port}/status"})
    alerts = [alert_with_changes(klaxon, cfg, seq) for seq in range(alerts)]
    expected = len(alerts) * len(ORDER)
    # Updates of one alert go out in order, so only the first of each alert is tried while it fails.
    wait_until(lambda: sum(m["attemptCount"] >= 2 for m in klaxon.messages(configuration=cfg["uuid"])) >= len(alerts),
               60, interval=0.3, message="the first update of every alert to fail at least twice")
    time.sleep(down_for)
    with ReceiverAt(port) as receiver:
        receiver.wait_for(expected, timeout=60)
        messages = wait_until(lambda: all_in(klaxon, cfg, "delivered", count=expected), 30, interval=0.5,
                              message="every message delivered")
    return alerts, arrivals(receiver), messages


def test_every_pending_update_arrives_once_the_receiver_is_back(shared, figures):
    alerts, got, messages = updates_after_an_outage(shared, ALERTS, down_for=3.0)
    assert sorted(m["msgId"] for m in messages) == sorted(g[3] for g in got), "lost or repeated updates"
    for alert in alerts:
        by_date = [status for _, status, _, _ in sorted((g for g in got if g[0] == alert), key=lambda g: g[2])]
        assert by_date == ORDER, f"alert {alert}: dates put the updates as {by_date}"
    figures.update(alerts=ALERTS, updates=len(messages), requests=len(got), seconds_down_after_two_failures=3.0,
                   max_attempts=max(m["attemptCount"] for m in messages),
                   arrival_inversions=sum(inversions([g[1] for g in got if g[0] == a]) for a in alerts))


def test_updates_of_one_alert_arrive_in_the_order_they_happened_after_an_outage(shared, figures):
    alerts, got, _ = updates_after_an_outage(shared, 3, down_for=1.0)
    arrived = {alert: [g[1] for g in got if g[0] == alert] for alert in alerts}
    figures.update(alerts=len(alerts), arrival_inversions=sum(inversions(s) for s in arrived.values()))
    for alert, statuses in arrived.items():
        assert statuses == ORDER, f"alert {alert}: its updates arrived as {statuses}"


def test_a_dead_update_is_not_sent_again_until_it_is_redelivered(shared, figures):
    port = free_port()
    # one RQ worker: what is under test is the sweeper (worker-0's) leaving dead messages alone
    klaxon = shared(env={"KLAXON_WEBHOOK_RETRY_SCHEDULE": SHORT_SCHEDULE, **LEASE}, workers=1)
    cfg = klaxon.configuration(updates={"status": f"http://127.0.0.1:{port}/status"})
    since = datetime.now(UTC).isoformat()
    for seq in range(3):
        response = requests.post(klaxon.trigger_url(cfg), json={"properties": {"Summary": f"dead #{seq}"}}, timeout=10)
        assert response.status_code == 202
    # waits, not assertions on speed: on 2 busy cores in PostgreSQL mode the retries took over 20 s
    dead = wait_until(lambda: all_in(klaxon, cfg, "dead", count=3), 60, interval=0.3, message="three dead messages")
    with ReceiverAt(port) as receiver:
        time.sleep(4)  # eight sweeps: none may pick a dead message up
        assert receiver.requests == [], "a dead message was sent without a redeliver"
        first = dead[0]["msgId"]
        klaxon.call("POST", f"/api/v1/webhook-messages/{first}/redeliver", expect=202)
        receiver.wait_for(1, timeout=20)
        # 2 s in which the other two stay dead; asking the server all along also keeps this session's
        # connection busy (idle for the serve's 2 s keep-alive, a reused one was closed mid-request)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            others = [m["status"] for m in klaxon.messages(configuration=cfg["uuid"]) if m["msgId"] != first]
            assert others == ["dead", "dead"], others
            time.sleep(0.2)
        assert [g[3] for g in arrivals(receiver)] == [first], "redelivering one message sent others"
        klaxon.call("POST", "/api/v1/webhook-messages/recover", expect=202,
                    json={"configuration": cfg["uuid"], "updateType": "status", "since": since})
        receiver.wait_for(3, timeout=20)
    assert sorted(g[3] for g in arrivals(receiver)) == sorted(m["msgId"] for m in dead)
    figures.update(messages=3, dead_before_receiver_up=3, sent_while_dead=0, sent_after_redeliver=3)
