"""On-call groups on a real `klaxon serve` (issue 15): who is paged, when, and what survives a killed worker.

The clock cannot be moved, so the ten instants across a week and a DST change are asked of the
running server's on-call API (America/New_York, 2026-03-02 .. 03-16, the jump on 03-08), and the
real pages happen "now" in groups whose shifts are laid out around the current time (UTC):
the first and the second week of a weekly rotation, a night shift in both weeks, and no shift.
Minutes are KLAXON_MINUTE_SECONDS long (0.2 s), so a 15-minute escalation delay is 3 s. The tests
share one live server with two workers (the last test kills both); each starts by ending the
alerts of the one before and making the group afresh.
"""
from __future__ import annotations

import itertools
import json
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from tests.reliability.faults import kill_tree, wait_for_new, workers
from tests.reliability.shared_serve import shared_serve
from tests.support import Receiver, wait_until

MINUTE = 0.2
ENV = {"KLAXON_MINUTE_SECONDS": str(MINUTE)}
PEOPLE = ("alice", "bob", "carol", "dave", "lead")
WORKDAYS = {"frequency": "WEEKLY", "byDay": ["MO", "TU", "WE", "TH", "FR"]}
WEEKLY = {"direction": "SECOND_TO_FIRST", "every": "INTERVAL", "intervalHours": 168}
OPTIONS = [{"text": "Acknowledge", "action": "STOP_NOTIFYING_USER"}, {"text": "Resolve", "action": "END"}]


def wall(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M")


class Pages:
    """The pages a Receiver got, by alert: [(username, arrival monotonic time)]."""

    def __init__(self, receiver):
        self.receiver = receiver

    def of(self, event_id):
        with self.receiver.lock:
            return [(json.loads(r["body"])["recipient"], r["at"]) for r in self.receiver.requests
                    if json.loads(r["body"])["eventIdentifier"] == event_id]

    def names(self, event_id):
        return [name for name, _ in self.of(event_id)]

    def wait(self, event_id, count, timeout=30):
        return wait_until(lambda: len(self.of(event_id)) >= count and self.of(event_id), timeout, interval=0.05,
                          message=f"{count} pages of alert {event_id}, got {self.names(event_id)}")


@pytest.fixture(scope="module")
def shared(request, tmp_path_factory, live_database, template_database):
    yield from shared_serve(request, tmp_path_factory, live_database, template_database)


def setup(shared, receiver, shifts, workers=2, fallback=("lead",)):
    """The module's server with PEOPLE paging ``receiver``, a new group NOC with ``shifts`` and a configuration."""
    klaxon = shared(env=ENV, workers=workers)
    for alert in klaxon.alerts(status="ACTIVE,SUSPENDED"):  # an earlier test's: it pages nobody now
        end(klaxon, alert["alertId"])
    klaxon.call("DELETE", "/api/v1/groups/NOC")  # 404 on a new server
    for name in PEOPLE:
        pager = ("webhook", "Pager", f"{receiver.url}/{name}")
        if klaxon.call("GET", f"/api/v1/users/{name}").status_code == 404:
            klaxon.user(name, [pager])
        else:
            klaxon.call("PATCH", f"/api/v1/users/{name}", expect=200,
                        json={"devices": [{"kind": pager[0], "name": pager[1], "target": pager[2]}]})
    klaxon.call("POST", "/api/v1/groups", expect=201,
                json={"name": "NOC", "timezone": "UTC", "shifts": shifts, "fallback": list(fallback)})
    cfg = klaxon.call("POST", "/api/v1/configurations", expect=201, json={
        "template": "webhook", "name": "On-call", "rateLimitPerMinute": 0, "responseOptions": OPTIONS,
        "recipients": [{"id": "NOC", "recipientType": "GROUP"}]}).json()
    return klaxon, cfg


def page(klaxon, cfg, subject="Disk full"):
    response = requests.post(klaxon.trigger_url(cfg), json={"subject": subject}, timeout=10)
    assert response.status_code == 202, response.text
    return response.json()["eventIdentifier"]


def on_call_at_creation(klaxon, event_id):
    """The on-call API asked at the alert's own creation time: shift name -> usernames in order."""
    created = klaxon.call("GET", f"/api/v1/alerts/{event_id}", expect=200).json()["createdAt"]
    found = klaxon.call("GET", "/api/v1/groups/NOC/on-call", params={"at": created}, expect=200).json()
    return found


def end(klaxon, event_id):
    klaxon.call("POST", f"/api/v1/alerts/{event_id}/status", json={"status": "TERMINATED_EXTERNAL"}, expect=None)


def shift(name, start, hours, timeline, rule=None, rotation=WEEKLY, repeat=None):
    body = {"name": name, "start": wall(start), "end": wall(start + timedelta(hours=hours)),
            "recurrence": rule or {"frequency": "DAILY"}, "timeline": timeline, "rotation": rotation}
    return {**body, **({"repeat": repeat} if repeat else {})}


PAIR = {"alice": "bob", "bob": "alice", "carol": "dave", "dave": "carol"}


# The ten instants, worked out by hand (tests/test_oncall_resolver.py has the same table).
TEN = [
    ("2026-03-02T14:00:00Z", ("Business hours", "alice")),  # Mon 09:00 EST, the first start
    ("2026-03-02T22:00:00Z", ("Nights", "carol")),          # 17:00 EST: day ends, night begins
    ("2026-03-07T15:00:00Z", None),                         # Sat 10:00 EST: no shift, the fallback
    ("2026-03-08T06:30:00Z", ("Nights", "carol")),          # Sun 01:30 EST, before the jump
    ("2026-03-08T07:30:00Z", ("Nights", "carol")),          # Sun 03:30 EDT, after it
    ("2026-03-08T13:30:00Z", None),                         # Sun 09:30 EDT: the night ended at 09:00 local
    ("2026-03-09T12:30:00Z", ("Nights", "carol")),          # Mon 08:30 EDT, still the first week
    ("2026-03-09T13:30:00Z", ("Business hours", "bob")),    # Mon 09:30 EDT: 168 wall-clock hours on
    ("2026-03-09T21:30:00Z", ("Nights", "dave")),           # Mon 17:30 EDT, the night handover
    ("2026-03-16T13:00:00Z", ("Business hours", "alice")),  # Mon 09:00 EDT: two handovers, back round
]


def test_ten_instants_across_a_week_and_a_dst_change_then_real_pages_now(shared, figures):
    with Receiver() as receiver:
        pages = Pages(receiver)
        dst = [{"name": "Business hours", "start": "2026-03-02T09:00", "end": "2026-03-02T17:00",
                "recurrence": WORKDAYS, "rotation": WEEKLY,
                "timeline": [{"member": "alice"}, {"member": "bob", "delayMinutes": 15}]},
               {"name": "Nights", "start": "2026-03-02T17:00", "end": "2026-03-03T09:00",
                "recurrence": {"frequency": "DAILY"}, "rotation": WEEKLY,
                "timeline": [{"member": "carol"}, {"member": "dave", "delayMinutes": 15}]}]
        klaxon, cfg = setup(shared, receiver, [])
        klaxon.call("PATCH", "/api/v1/groups/NOC", json={"timezone": "America/New_York", "shifts": dst}, expect=200)
        for at, expected in TEN:
            found = klaxon.call("GET", "/api/v1/groups/NOC/on-call", params={"at": at}, expect=200).json()
            if expected is None:
                assert found["shifts"] == [] and found["fallback"] == ["lead"], (at, found)
                continue
            name, first = expected
            assert [s["name"] for s in found["shifts"]] == [name], (at, found)
            assert [(e["username"], e["delayMinutes"]) for e in found["shifts"][0]["timeline"]] == \
                [(first, 0), (PAIR[first], 15)], (at, found)
        # the schedule agrees with on-call for the first week's Monday handover
        week = klaxon.call("GET", "/api/v1/groups/NOC/schedule", expect=200,
                           params={"from": "2026-03-09T00:00:00Z", "to": "2026-03-10T00:00:00Z"}).json()["items"]
        assert [(i["shift"], i["timeline"][0]["username"]) for i in week] == [
            ("Nights", "carol"), ("Business hours", "bob"), ("Nights", "dave")]

        # real pages now: shifts laid out around the current time in UTC, one layout per case
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        week_ago = now - timedelta(days=7)
        cases = [  # (layout, who the first page goes to)
            ([shift("Business hours", now - timedelta(hours=1), 8, [{"member": "alice"},
                                                                  {"member": "bob", "delayMinutes": 15}])], "alice"),
            ([shift("Business hours", week_ago - timedelta(hours=1), 8, [{"member": "alice"},
                                                                       {"member": "bob", "delayMinutes": 15}])], "bob"),
            ([shift("Nights", now - timedelta(hours=2), 16, [{"member": "carol"},
                                                           {"member": "dave", "delayMinutes": 15}])], "carol"),
            ([shift("Nights", week_ago - timedelta(hours=2), 16, [{"member": "carol"},
                                                                {"member": "dave", "delayMinutes": 15}])], "dave"),
            ([shift("Business hours", now + timedelta(hours=1), 8, [{"member": "alice"}])], "lead"),
        ]
        klaxon.call("PATCH", "/api/v1/groups/NOC", json={"timezone": "UTC"}, expect=200)
        paged = []
        for layout, first in cases:
            klaxon.call("PATCH", "/api/v1/groups/NOC", json={"shifts": layout}, expect=200)
            started = time.monotonic()
            event_id = page(klaxon, cfg)
            got = pages.wait(event_id, 1)
            assert got[0][0] == first, (first, got)
            expected = on_call_at_creation(klaxon, event_id)
            shown = [e["username"] for s in expected["shifts"] for e in s["timeline"]] + expected["fallback"]
            assert shown[0] == first, "GET …/on-call differs from what was paged"
            if len(shown) > 1:
                second = pages.wait(event_id, 2)
                assert second[1][0] == shown[1] and second[1][1] - started >= 15 * MINUTE - 1, second
            time.sleep(2 * MINUTE)
            assert len(pages.of(event_id)) == len(shown), pages.names(event_id)  # nobody else
            end(klaxon, event_id)
            paged.append(first)
    figures.update(instants_checked=len(TEN), real_pages=paged)


def test_an_override_for_part_of_a_shift_replaces_the_member_in_that_window_only(shared):
    with Receiver() as receiver:
        pages = Pages(receiver)
        now = datetime.now(UTC).replace(microsecond=0)
        layout = [shift("Business hours", now.replace(second=0) - timedelta(hours=1), 8,
                        [{"member": "alice"}, {"member": "bob", "delayMinutes": 600}], rotation={"direction": "NONE"})]
        klaxon, cfg = setup(shared, receiver, layout)
        window = {"start": (now - timedelta(minutes=5)).isoformat(), "end": (now + timedelta(minutes=30)).isoformat()}
        klaxon.call("POST", "/api/v1/groups/NOC/overrides", expect=201,
                    json={**window, "member": "alice", "replacement": "carol", "shift": "Business hours"})
        event_id = page(klaxon, cfg)
        assert pages.wait(event_id, 1)[0][0] == "carol"
        assert on_call_at_creation(klaxon, event_id)["shifts"][0]["timeline"][0]["username"] == "carol"
        for at, first in ((now - timedelta(minutes=6), "alice"), (now + timedelta(minutes=31), "alice"),
                          (now + timedelta(minutes=29), "carol")):
            found = klaxon.call("GET", "/api/v1/groups/NOC/on-call", params={"at": at.isoformat()}, expect=200).json()
            assert found["shifts"][0]["timeline"][0]["username"] == first, (at, found)


@pytest.mark.slow
def test_repeat_restarts_the_timeline_n_times_then_stops_and_a_response_stops_it_at_once(shared, figures):
    with Receiver() as receiver:
        pages = Pages(receiver)
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        layout = [shift("Always", now - timedelta(hours=1), 12, [{"member": "alice"}], rotation={"direction": "NONE"},
                        repeat={"afterMinutes": 5, "times": 2})]
        klaxon, cfg = setup(shared, receiver, layout, workers=2)
        unanswered = page(klaxon, cfg, "unanswered")
        got = pages.wait(unanswered, 3, timeout=30)
        time.sleep(15 * MINUTE)
        assert pages.names(unanswered) == ["alice"] * 3, "the timeline repeated more than twice"
        gaps = [round(b - a, 1) for (_, a), (_, b) in itertools.pairwise(got)]
        assert all(g >= 5 * MINUTE - 1 for g in gaps), gaps
        # The answered alert repeats after 20 minutes (4 s), not 5 (1 s): a step may start up to a second
        # early (escalation.EARLY), so a 1 s repeat could page before the response is posted.
        layout[0]["repeat"] = {"afterMinutes": 20, "times": 2}
        klaxon.call("PATCH", "/api/v1/groups/NOC", json={"shifts": layout}, expect=200)
        answered = page(klaxon, cfg, "answered")
        pages.wait(answered, 1)
        klaxon.call("POST", f"/api/v1/alerts/{answered}/responses", expect=201,
                    json={"recipient": "alice", "response": "Acknowledge"})
        time.sleep(30 * MINUTE)  # past the first repeat's time
        assert pages.names(answered) == ["alice"], "a response did not stop the repeats"
        figures.update(repeat_gaps_s=gaps)


def test_alert_rotation_under_concurrent_alerts_gives_distinct_positions(shared, figures):
    with Receiver() as receiver:
        pages = Pages(receiver)
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        layout = [shift("Always", now - timedelta(hours=1), 12,
                        [{"member": "alice"}, {"member": "bob", "delayMinutes": 600},
                         {"member": "carol", "delayMinutes": 600}],
                        rotation={"direction": "SECOND_TO_FIRST", "every": "ALERT"})]
        klaxon, cfg = setup(shared, receiver, layout, workers=2)
        ids: list[int] = []
        threads = [threading.Thread(target=lambda n=n: ids.append(page(klaxon, cfg, f"concurrent {n}")))
                   for n in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        firsts = [pages.wait(event_id, 1)[0][0] for event_id in ids]
        assert sorted(firsts) == ["alice", "alice", "bob", "bob", "carol", "carol"], firsts
        group = klaxon.call("GET", "/api/v1/groups/NOC/on-call", expect=200).json()
        assert group["shifts"][0]["timeline"][0]["username"] == "alice"  # the 7th alert: 6 % 3 = back round
        figures.update(firsts=firsts)


@pytest.mark.slow
def test_killing_the_worker_during_an_escalation_delay_loses_no_step(shared, figures):
    with Receiver() as receiver:
        pages = Pages(receiver)
        now = datetime.now(UTC).replace(second=0, microsecond=0)
        layout = [shift("Always", now - timedelta(hours=1), 12,
                        [{"member": "alice"}, {"member": "bob", "delayMinutes": 25}], rotation={"direction": "NONE"})]
        klaxon, cfg = setup(shared, receiver, layout)
        event_id = page(klaxon, cfg)
        first = pages.wait(event_id, 1)
        killed = workers(klaxon.server)
        assert len(killed) == 2, killed
        for worker in killed:  # every worker, during the 5 s delay before bob
            kill_tree(worker)
        wait_for_new(klaxon.server, workers, {worker.pid for worker in killed})
        got = pages.wait(event_id, 2, timeout=60)
        time.sleep(1)
        assert pages.names(event_id) == ["alice", "bob"]
        figures.update(second_step_after_s=round(got[1][1] - first[0][1], 1))
