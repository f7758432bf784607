"""Races against a live `klaxon serve` (two web processes, 8 Flask threads each; both databases): 32
threads released at once by a barrier send the same request, and the outcome is exactly once.

Dedup (one new key: one alert, one page, every other post a duplicate), responses (one Resolve
ends the alert once), status changes (one termination), one response link posted 32 times (one
response, "already recorded" for the rest), creates of one username or group name (one 201, 409
for the rest) and edits of one user's devices or one group's members (each edit whole, none
lost in a 500). No answer is a 5xx in any of them. The tests share one live server (tests make
their own configurations and names; bsmith pages each test's own receiver).
"""
from __future__ import annotations

import json
import re
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.reliability.shared_serve import shared_serve

pytestmark = pytest.mark.slow
THREADS = 32
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def race(send, count=THREADS):
    """Run ``send(i)`` in ``count`` threads that all start together; the answers, in order."""
    barrier = threading.Barrier(count, timeout=60)

    def one(i):
        prepared = send(i)  # returns a callable that does the racing request
        barrier.wait()
        return prepared()

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(one, range(count)))


def session(token=None):
    http = requests.Session()
    if token:
        http.headers["Authorization"] = f"Bearer {token}"
    return http


def codes(answers) -> Counter:
    return Counter(a.status_code for a in answers)


@pytest.fixture(scope="module")
def shared(request, tmp_path_factory, live_database, template_database):
    yield from shared_serve(request, tmp_path_factory, live_database, template_database)


@pytest.fixture
def klaxon(shared, receiver):
    """The module's live server, bsmith's one device paging this test's receiver, no earlier alert active.
    Two RQ workers: the jobs the racing requests queue (a page, an update) may then run at once, so
    "one page", "one update" also hold across workers, not only one job after another."""
    klaxon = shared(workers=2)
    pager = ("webhook", "Pager", f"{receiver.url}/page")
    if klaxon.call("GET", "/api/v1/users/bsmith").status_code == 404:
        klaxon.user("bsmith", [pager])
    else:
        klaxon.call("PATCH", "/api/v1/users/bsmith", expect=200,
                    json={"devices": [{"kind": pager[0], "name": pager[1], "target": pager[2]}]})
    for alert in klaxon.alerts(status="ACTIVE"):
        klaxon.call("POST", f"/api/v1/alerts/{alert['alertId']}/status", json={"status": "TERMINATED_EXTERNAL"},
                    expect=200)
    return klaxon


def configuration(klaxon, receiver, **extra):
    return klaxon.configuration(
        recipients=["bsmith"], updates={"status": f"{receiver.url}/status", "response": f"{receiver.url}/response"},
        responseOptions=[{"text": "Acknowledge", "action": "RECORD_RESPONSE"}, {"text": "Resolve", "action": "END"}],
        **extra)


def post_alert(klaxon, cfg, body):
    reply = requests.post(klaxon.trigger_url(cfg), json=body, timeout=30)
    assert reply.status_code == 202, reply.text
    return klaxon.call("GET", f"/api/v1/alerts/{reply.json()['alertId']}", expect=200).json()


def messages(klaxon, alert, update_type):
    return klaxon.messages(alertId=alert["alertId"], updateType=update_type)


def timeline(klaxon, alert, type_):
    detail = klaxon.call("GET", f"/api/v1/alerts/{alert['alertId']}", expect=200).json()
    return [t for t in detail["timeline"] if t["type"] == type_]


def test_one_new_dedup_key_posted_by_32_threads_makes_one_alert_and_31_duplicates(klaxon, receiver, figures):
    cfg = configuration(klaxon, receiver)
    url = klaxon.trigger_url(cfg)

    def post(i):
        http = session()
        return lambda: http.post(url, json={"subject": f"disk full {i}", "dedupKey": "disk-1"}, timeout=60)

    first = race(post)
    alerts = klaxon.alerts(configuration=cfg["uuid"])
    again = race(post)  # duplicates of the alert that now exists
    alert = klaxon.call("GET", f"/api/v1/alerts/{alerts[0]['alertId']}", expect=200).json()
    receiver.wait_for(1, path="/page", timeout=30)
    time.sleep(3)  # time for any second page to arrive (the sweeper runs every 0.5 s)
    pages = [r for r in receiver.requests if r["path"] == "/page"]
    figures.update(first=dict(codes(first)), again=dict(codes(again)), alerts=len(alerts),
                   duplicate_count=alert["duplicateCount"], pages=len(pages))
    assert codes(first) == {202: THREADS} and codes(again) == {202: THREADS}
    assert len(alerts) == 1, f"{len(alerts)} alerts for one dedupKey"
    assert {a.json()["alertId"] for a in first + again} == {alert["alertId"]}
    assert alert["duplicateCount"] == 2 * THREADS - 1
    assert len(pages) == 1, f"{len(pages)} pages for one alert"


def test_32_concurrent_resolve_responses_end_the_alert_once(klaxon, receiver, figures):
    alert = post_alert(klaxon, configuration(klaxon, receiver), {"subject": "db down"})
    path = f"/api/v1/alerts/{alert['alertId']}/responses"

    def respond(i):
        http = session(klaxon.token)
        return lambda: http.post(klaxon.url + path, json={"recipient": "bsmith", "response": "Resolve"}, timeout=60)

    answers = race(respond)
    detail = klaxon.call("GET", f"/api/v1/alerts/{alert['alertId']}", expect=200).json()
    found = {"answers": dict(codes(answers)), "responses": len(detail["responses"]),
             "terminations": len(timeline(klaxon, alert, "EVENT_TERMINATED")),
             "status_updates": len(messages(klaxon, alert, "status")),
             "response_updates": len(messages(klaxon, alert, "response"))}
    figures.update(found)
    assert codes(answers) == {201: 1, 409: THREADS - 1}, found
    assert detail["status"] == "TERMINATED_EXTERNAL"
    assert (found["responses"], found["terminations"]) == (1, 1), found
    assert (found["status_updates"], found["response_updates"]) == (2, 1), found  # ACTIVE, then the end


def test_32_concurrent_status_changes_terminate_the_alert_once(klaxon, receiver, figures):
    alert = post_alert(klaxon, configuration(klaxon, receiver), {"subject": "cpu hot"})
    path = f"/api/v1/alerts/{alert['alertId']}/status"

    def end(i):
        http = session(klaxon.token)
        return lambda: http.post(klaxon.url + path, json={"status": "TERMINATED_EXTERNAL"}, timeout=60)

    answers = race(end)
    found = {"answers": dict(codes(answers)), "terminations": len(timeline(klaxon, alert, "EVENT_TERMINATED")),
             "status_updates": len(messages(klaxon, alert, "status"))}
    figures.update(found)
    assert not [a for a in answers if a.status_code >= 500], found
    assert found["terminations"] == 1 and found["status_updates"] == 2, found


def test_one_response_link_posted_by_32_threads_records_one_response(klaxon, receiver, figures):
    alert = post_alert(klaxon, configuration(klaxon, receiver), {"subject": "queue stuck"})
    (page,) = receiver.wait_for(1, path="/page", timeout=30)
    link = next(r["url"] for r in json.loads(page["body"])["responses"] if r["text"] == "Acknowledge")
    link = klaxon.url + "/respond/" + link.rsplit("/", 1)[1]

    def post(i):
        http = session()
        form = http.get(link, timeout=30)
        assert form.status_code == 200, form.text[:300]
        token = CSRF.search(form.text).group(1)
        return lambda: http.post(link, data={"csrf_token": token, "comment": f"thread {i}"}, timeout=60)

    answers = race(post)
    detail = klaxon.call("GET", f"/api/v1/alerts/{alert['alertId']}", expect=200).json()
    found = {"answers": dict(codes(answers)), "responses": len(detail["responses"]),
             "response_updates": len(messages(klaxon, alert, "response"))}
    figures.update(found)
    assert codes(answers) == {200: 1, 410: THREADS - 1}, found
    assert all("already recorded" in a.text for a in answers if a.status_code == 410)
    assert found["responses"] == 1 and found["response_updates"] == 1, found


@pytest.mark.parametrize("what", ["user", "group"])
def test_32_concurrent_creates_of_one_name_make_one(klaxon, what, figures):
    path, body = {"user": ("/api/v1/users", {"username": "jdoe", "name": "J Doe"}),
                  "group": ("/api/v1/groups", {"name": "DBA", "members": ["bsmith"]})}[what]

    def create(i):
        http = session(klaxon.token)
        return lambda: http.post(klaxon.url + path, json=body, timeout=60)

    answers = race(create)
    figures.update(answers=dict(codes(answers)))
    assert codes(answers) == {201: 1, 409: THREADS - 1}, codes(answers)
    assert all("already" in a.json()["message"] for a in answers if a.status_code == 409)
    listed = [x for x in klaxon.every(path) if x.get("username", x.get("name")) in ("jdoe", "DBA")]
    assert len(listed) == 1


def test_32_concurrent_edits_of_one_users_devices_and_one_groups_members(klaxon, receiver, figures):
    for name in ("u1", "u2", "u3"):
        klaxon.user(name, [])
    klaxon.call("POST", "/api/v1/groups", json={"name": "Ops", "members": ["bsmith"]}, expect=201)

    def devices(i):
        http = session(klaxon.token)
        body = {"devices": [{"name": f"Hook {i}", "kind": "webhook", "target": f"{receiver.url}/{i}"},
                            {"name": "Pager", "kind": "webhook", "target": f"{receiver.url}/page"}]}
        return lambda: http.patch(klaxon.url + "/api/v1/users/bsmith", json=body, timeout=60)

    def add_device(i):
        http = session(klaxon.token)
        body = {"name": "Phone", "kind": "webhook", "target": f"{receiver.url}/phone{i}"}
        return lambda: http.post(klaxon.url + "/api/v1/users/bsmith/devices", json=body, timeout=60)

    members = [["bsmith", "u1"], ["u2", "bsmith"], ["u3"], ["u1", "u2", "u3", "bsmith"]]

    def group(i):
        http = session(klaxon.token)
        return lambda: http.patch(klaxon.url + "/api/v1/groups/Ops", json={"members": members[i % 4]}, timeout=60)

    patched, added, grouped = race(devices), race(add_device), race(group)
    figures.update(devices=dict(codes(patched)), add_device=dict(codes(added)), members=dict(codes(grouped)))
    assert codes(patched) == {200: THREADS}, codes(patched)
    assert codes(added) == {201: 1, 409: THREADS - 1}, codes(added)
    assert codes(grouped) == {200: THREADS}, codes(grouped)
    names = sorted(d["name"] for d in klaxon.call("GET", "/api/v1/users/bsmith", expect=200).json()["devices"])
    assert len(names) == 3 and names[1:] == ["Pager", "Phone"] and names[0].startswith("Hook "), names
    final = klaxon.call("GET", "/api/v1/groups/Ops", expect=200).json()["members"]
    assert final in members, final
