"""Maintenance windows (SPEC §10) through the REST API and the integration URL, in-process."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support import add_user, hook, notify_config, person, send_alert, trigger, updates_to

ALL = "all"


def wall(delta_seconds: float = 0) -> str:
    """A UTC wall-clock time ``delta_seconds`` from now, as the API takes it."""
    return (datetime.now(UTC) + timedelta(seconds=delta_seconds)).strftime("%Y-%m-%dT%H:%M:%S")


def window(api, configurations=ALL, **fields):
    body = {"name": "DB upgrade", "start": wall(-60), "end": wall(3600), "configurations": configurations, **fields}
    response = api.post("/api/v1/maintenance-windows", json=body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def paged(api, receiver):
    add_user(api, "bsmith", [hook(receiver, "Pager", "page")])
    return notify_config(api, [person("bsmith")], updates=updates_to(receiver, ("status",)))


def test_it_creates_lists_ends_and_deletes_a_window(api, paged):
    made = window(api, [paged["uuid"]], notifyOnEnd=True)
    assert made["active"] is True and made["configurations"] == [paged["uuid"]] and made["notifyOnEnd"] is True
    listed = api.get("/api/v1/maintenance-windows").get_json()["items"]
    assert [(w["id"], w["active"]) for w in listed] == [(made["id"], True)]
    ended = api.patch(f"/api/v1/maintenance-windows/{made['id']}", json={"end": wall(-1)})
    assert ended.status_code == 200 and ended.get_json()["active"] is False
    assert api.delete(f"/api/v1/maintenance-windows/{made['id']}").status_code == 204
    assert api.get(f"/api/v1/maintenance-windows/{made['id']}").status_code == 404


@pytest.mark.parametrize("fields, field", [
    ({"name": ""}, "name"), ({"end": "2020-01-01T00:00"}, "end"), ({"start": "tomorrow"}, "start"),
    ({"configurations": []}, "configurations"), ({"configurations": ["nope"]}, "configurations[0]"),
    ({"timezone": "Mars/Olympus"}, "timezone"), ({"recurrence": {"frequency": "HOURLY"}}, "recurrence.frequency"),
    ({"notifyOnEnd": "yes"}, "notifyOnEnd"), ({"colour": "red"}, "colour"),
])
def test_it_names_the_field_that_is_wrong(api, paged, fields, field):
    body = {"name": "x", "start": wall(-60), "end": wall(60), "configurations": ALL, **fields}
    response = api.post("/api/v1/maintenance-windows", json=body)
    assert response.status_code == 400 and response.get_json()["field"] == field


def test_an_alert_in_a_window_is_stored_and_shown_but_notifies_nobody(api, client, run_jobs, receiver, paged):
    made = window(api)
    answer = trigger(client, paged)
    assert answer["maintenance"] == made["id"]
    assert [w for w in answer["warnings"] if "maintenance window" in w or "Flood control" in w] == [
        f"The alert arrived in maintenance window “DB upgrade” (id {made['id']}), so no one will be notified."]
    run_jobs()
    receiver.wait_for(1, path="/status")  # the status update still goes out
    alert = api.get(f"/api/v1/alerts/{answer['alertId']}").get_json()
    assert alert["maintenance"] == made["id"] and alert["status"] == "ACTIVE"
    assert alert["notifications"] == [] and receiver.json_bodies("/page") == []


def test_a_window_for_other_configurations_does_not_hold_this_one(api, client, run_jobs, receiver, paged):
    other = notify_config(api, [person("bsmith")], name="Other")
    window(api, [other["uuid"]])
    answer = trigger(client, paged)
    assert "maintenance" not in answer
    run_jobs()
    receiver.wait_for(1, path="/page")


def test_notify_on_end_notifies_the_alerts_still_active_once(app, api, client, run_jobs, receiver, paged):
    from models import utcnow
    from runtime.sweeper import sweep_once

    made = window(api, notifyOnEnd=True)
    trigger(client, paged, {"subject": "still active"})
    ended = trigger(client, paged, {"subject": "ended"})
    api.post(f"/api/v1/alerts/{ended['alertId']}/status", json={"status": "TERMINATED_EXTERNAL"})
    run_jobs()
    assert receiver.json_bodies("/page") == []
    api.patch(f"/api/v1/maintenance-windows/{made['id']}", json={"end": wall(-1)})
    for _ in range(3):  # as several sweepers would
        sweep_once(utcnow())
        run_jobs()
    pages = receiver.wait_for(1, path="/page")
    assert len(pages) == 1 and "still active" in pages[0]["body"].decode()
    sweep_once(utcnow())
    run_jobs()
    assert len(receiver.json_bodies("/page")) == 1


def test_without_notify_on_end_the_held_alert_stays_quiet(app, api, client, run_jobs, receiver, paged):
    from models import utcnow
    from runtime.sweeper import sweep_once

    made = window(api)
    trigger(client, paged)
    api.patch(f"/api/v1/maintenance-windows/{made['id']}", json={"end": wall(-1)})
    sweep_once(utcnow())
    run_jobs()
    assert receiver.json_bodies("/page") == []
    after = trigger(client, paged)  # the window is over: this one notifies
    assert "maintenance" not in after
    run_jobs()
    receiver.wait_for(1, path="/page")


def test_deleting_a_window_releases_what_it_held(app, api, client, run_jobs, receiver, paged):
    from models import utcnow
    from runtime.sweeper import sweep_once

    made = window(api, notifyOnEnd=True)
    trigger(client, paged)
    api.delete(f"/api/v1/maintenance-windows/{made['id']}")
    sweep_once(utcnow())
    run_jobs()
    receiver.wait_for(1, path="/page")


def test_a_window_accepts_instants_with_an_offset(api, paged):
    now = datetime.now(UTC)
    made = window(api, start=(now - timedelta(minutes=5)).isoformat(), end=(now + timedelta(minutes=5)).isoformat(),
                  timezone="Europe/Berlin")
    assert made["active"] is True and made["timezone"] == "Europe/Berlin"


def test_a_duplicate_in_a_window_is_still_a_duplicate(api, client, paged):
    window(api)
    first = send_alert(client, paged, {"subject": "x", "dedupKey": "k"}).get_json()
    second = send_alert(client, paged, {"subject": "x", "dedupKey": "k"}).get_json()
    assert second["deduplicated"] is True and second["alertId"] == first["alertId"]
