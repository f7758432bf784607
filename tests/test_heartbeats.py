"""Heartbeats (SPEC §10): pings by POST or GET, the checker's one alert per outage, the next ping ends it."""
from __future__ import annotations

import base64

import pytest

from tests.support import add_user, hook, integration_path, person

MINUTE = 5.0  # seconds: KLAXON_MINUTE_SECONDS in these tests (the checker is driven with explicit instants)


@pytest.fixture
def settings_env():
    return {"KLAXON_MINUTE_SECONDS": str(MINUTE)}


@pytest.fixture
def beat(api, receiver):
    add_user(api, "bsmith", [hook(receiver, "Pager", "page")])
    response = api.post("/api/v1/configurations", json={
        "template": "heartbeat", "name": "Nightly backup", "intervalMinutes": 2, "graceMinutes": 1,
        "recipients": [person("bsmith")],
        "updates": {"status": {"enabled": True, "url": f"{receiver.url}/status"}}})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def sweep(now=None):
    from models import utcnow
    from runtime.sweeper import sweep_once

    sweep_once(now or utcnow())


def alerts(api, cfg):
    return api.get(f"/api/v1/alerts?configuration={cfg['uuid']}").get_json()["items"]


def test_a_heartbeat_configuration_has_its_fields(api, beat):
    assert beat["intervalMinutes"] == 2 and beat["graceMinutes"] == 1
    assert beat["heartbeat"]["state"] == "never"
    bad = api.post("/api/v1/configurations", json={"template": "heartbeat", "name": "x", "intervalMinutes": 0})
    assert bad.status_code == 400 and bad.get_json()["field"] == "intervalMinutes"


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("how", ["query", "header", "basic"])
def test_it_is_pinged_by_get_or_post_with_the_key_any_way(client, api, beat, how, method):
    path = integration_path(beat, key=how == "query")
    headers = {"query": {}, "header": {"X-Api-Key": beat["apiKey"]},
               "basic": {"Authorization": "Basic " + base64.b64encode(f"x:{beat['apiKey']}".encode()).decode()}}[how]
    response = client.open(path, method=method, headers=headers)
    assert response.status_code == 200
    assert response.get_json()["status"] == "up" and response.get_json()["nextExpectedAt"]
    assert api.get(f"/api/v1/configurations/{beat['uuid']}").get_json()["heartbeat"]["state"] == "up"


def test_a_post_with_any_body_is_a_ping(client, beat):
    response = client.post(integration_path(beat), data=b"\x00 not json", content_type="application/octet-stream")
    assert response.status_code == 200 and response.get_json()["status"] == "up"


def test_a_wrong_key_is_401_and_no_ping(client, api, beat):
    assert client.get(integration_path(beat, key=False) + "?apiKey=wrong").status_code == 401
    assert api.get(f"/api/v1/configurations/{beat['uuid']}").get_json()["heartbeat"]["state"] == "never"


def test_get_on_another_template_is_405(client, api):
    cfg = api.post("/api/v1/configurations", json={"template": "webhook", "name": "W"}).get_json()
    response = client.get(integration_path(cfg))
    assert response.status_code == 405 and response.get_json()["code"] == 405


def test_silence_opens_one_alert_and_the_next_ping_ends_it(app, client, api, run_jobs, receiver, beat):
    from datetime import timedelta

    from alerting.heartbeats import of, state
    from extensions import db
    from models import Configuration

    assert client.get(integration_path(beat)).status_code == 200
    row = of(db.session.query(Configuration).filter_by(uuid=beat["uuid"]).one())
    pinged, minute = row.last_ping_at, timedelta(seconds=MINUTE)
    assert state(row, pinged + 1.9 * minute) == "up"
    assert state(row, pinged + 2.1 * minute) == "late"  # interval 2, grace 1
    sweep(pinged + 2.9 * minute)
    assert alerts(api, beat) == []
    for _ in range(3):  # as several sweepers would
        sweep(pinged + 3.1 * minute)
    (alert,) = alerts(api, beat)
    assert alert["subject"].startswith("No heartbeat from Nightly backup for ") and alert["status"] == "ACTIVE"
    db.session.expire_all()
    assert state(of(db.session.query(Configuration).filter_by(uuid=beat["uuid"]).one())) == "down"
    run_jobs()
    receiver.wait_for(1, path="/page")
    assert client.get(integration_path(beat)).status_code == 200
    (alert,) = alerts(api, beat)
    assert alert["status"] == "TERMINATED_EXTERNAL"
    run_jobs()
    statuses = receiver.wait_for(2, path="/status")
    last = receiver.json_bodies("/status")[-1]
    assert len(statuses) == 2 and last["status"] == "terminated_external"
    assert last["username"] == "integration:Nightly backup"
    sweep()
    assert len(alerts(api, beat)) == 1


def test_a_heartbeat_that_never_pinged_raises_nothing(api, beat):
    from datetime import timedelta

    from models import utcnow

    sweep(utcnow() + timedelta(days=1))
    assert alerts(api, beat) == []


def test_only_the_newest_pings_are_kept(app, client, beat):
    from alerting.heartbeats import KEEP_PINGS
    from extensions import db
    from models import HeartbeatPing

    for _ in range(KEEP_PINGS + 5):
        client.get(integration_path(beat))
    assert db.session.query(HeartbeatPing).count() == KEEP_PINGS


def test_metrics_count_heartbeats_by_state(app, client, beat):
    from extensions import db
    from runtime.metrics import render_metrics

    db.session.rollback()  # the test's requests shared this session: end its read before the scrape's own
    body = render_metrics(app)[0].decode()
    assert 'klaxon_heartbeats{state="never"} 1.0' in body and 'klaxon_heartbeats{state="up"} 0.0' in body
    assert "klaxon_alerts_suppressed_by_maintenance 0.0" in body
