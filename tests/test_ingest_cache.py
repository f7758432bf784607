"""The per-process cache of the integration URL's writer (alerting/alerts/config_cache.py, issue 17):
the database raises config_versions on every edit of what it holds, whatever wrote it, and a change
shows in the very next alert, in this process and on every web worker of a `klaxon serve`."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.support import clear_of_a_minute_edge, make_config, send_alert, trigger


def version():
    from extensions import db
    from models import ConfigVersion

    db.session.rollback()
    found = db.session.get(ConfigVersion, 1)
    value = found.version if found else None
    db.session.rollback()
    return value


def wall(delta_seconds: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(seconds=delta_seconds)).strftime("%Y-%m-%dT%H:%M:%S")


def window_body(**fields):
    return {"name": "DB upgrade", "start": wall(-60), "end": wall(3600), "configurations": "all", **fields}


def flows_url(cfg, *rest):
    return "/".join([f"/api/v1/configurations/{cfg['uuid']}/flows", *map(str, rest)])


@pytest.fixture
def cache():
    from alerting.alerts import config_cache

    config_cache.clear()
    yield config_cache
    config_cache.clear()


def test_every_edit_of_what_is_cached_raises_the_version_and_alerts_do_not(app, api, client, receiver):
    from sqlalchemy import text

    from extensions import db

    if version() is None:  # on PostgreSQL the tests' TRUNCATE between tests empties it too
        db.session.execute(text("INSERT INTO config_versions (id, version) VALUES (1, 1)"))
        db.session.commit()
    cfg = make_config(api, rateLimitPerMinute=0)
    seen = [version()]

    def raised():
        seen.append(version())
        return seen[-1] != seen[-2]

    assert api.patch(f"/api/v1/configurations/{cfg['uuid']}", json={"priority": "HIGH"}).status_code == 200
    assert raised()
    updates = {"status": {"enabled": True, "url": f"{receiver.url}/status"}}
    assert api.patch(f"/api/v1/configurations/{cfg['uuid']}", json={"updates": updates}).status_code == 200
    assert raised()
    flow = api.post(flows_url(cfg), json={"name": "Note", "trigger": {"type": "alert.created"}, "steps": []})
    assert flow.status_code == 201, flow.get_json()
    assert raised()
    assert api.patch(flows_url(cfg, flow.get_json()["id"]), json={"enabled": False}).status_code == 200
    assert raised()
    window = api.post("/api/v1/maintenance-windows", json=window_body())
    assert window.status_code == 201, window.get_json()
    assert raised()
    assert api.delete(f"/api/v1/maintenance-windows/{window.get_json()['id']}").status_code in (200, 204)
    assert raised()
    # an alert (with a callback, i.e. an endpoint of its own) and its status message change nothing cached
    trigger(client, cfg, {"subject": "disk", "callbacks": [{"url": f"{receiver.url}/cb", "type": "status"}]})
    assert not raised()
    # Klaxon disabling the configuration's endpoint (a worker, not the API) is an edit too
    from alerting.update_webhooks.outbox import disable_endpoint
    from models import UpdateEndpoint

    endpoint = db.session.query(UpdateEndpoint).filter_by(alert_id=None, update_type="status").one()
    disable_endpoint(endpoint, "410 Gone")
    db.session.commit()
    assert raised()
    assert api.delete(flows_url(cfg, flow.get_json()["id"])).status_code in (200, 204)
    assert raised()


def test_the_writer_reads_the_configuration_once_then_sees_each_change_in_the_next_alert(
        app, api, client, receiver, cache):
    from extensions import db
    from models import FlowRun, WebhookMessage

    cfg = make_config(api, rateLimitPerMinute=0, priority="LOW")
    trigger(client, cfg, {"subject": "first"})
    misses = cache.misses
    for i in range(3):
        trigger(client, cfg, {"subject": f"again {i}"})
    assert cache.misses == misses and cache.hits >= 3  # nothing changed: no read of the configuration

    assert api.patch(f"/api/v1/configurations/{cfg['uuid']}", json={"priority": "HIGH"}).status_code == 200
    assert trigger(client, cfg, {"subject": "after"})["status"] == "ACTIVE"
    assert api.get("/api/v1/alerts", query_string={"configuration": cfg["uuid"]}).get_json()["items"][0][
        "priority"] == "HIGH"

    updates = {"status": {"enabled": True, "url": f"{receiver.url}/status"}}
    assert api.patch(f"/api/v1/configurations/{cfg['uuid']}", json={"updates": updates}).status_code == 200
    alert = trigger(client, cfg, {"subject": "updates on"})
    assert db.session.query(WebhookMessage).filter_by(alert_id=alert["eventIdentifier"]).count() == 1
    db.session.rollback()

    flow = api.post(flows_url(cfg), json={"name": "Note", "trigger": {"type": "alert.created"}, "steps": []})
    assert flow.status_code == 201, flow.get_json()
    alert = trigger(client, cfg, {"subject": "flow on"})
    assert db.session.query(FlowRun).filter_by(alert_id=alert["eventIdentifier"]).count() == 1
    db.session.rollback()

    window = api.post("/api/v1/maintenance-windows", json=window_body()).get_json()
    assert trigger(client, cfg, {"subject": "held"}).get("maintenance") == window["id"]
    assert api.delete(f"/api/v1/maintenance-windows/{window['id']}").status_code in (200, 204)
    assert "maintenance" not in trigger(client, cfg, {"subject": "not held"})

    assert api.patch(f"/api/v1/configurations/{cfg['uuid']}", json={"enabled": False}).status_code == 200

    assert send_alert(client, cfg, {"subject": "disabled"}).status_code == 409


def test_the_request_reads_the_configuration_once_and_an_edit_elsewhere_shows_at_once(app, api, client, monkeypatch):
    """The request thread's snapshot of a configuration (blueprints/inbound.py ``_snapshots``) spares
    it a read per alert, but an edit written straight to the database, as another process's would be,
    shows in the very next request: a rotated key, disabling, a rate limit, a delete. The old key is
    refused although the snapshot still holds it (the batch sees another configuration and writes
    nothing; the request is made again from a fresh read)."""
    from sqlalchemy import text

    from blueprints import inbound
    from extensions import db
    from models import Alert

    reads: list[str] = []
    read = inbound.load_configuration
    monkeypatch.setattr(inbound, "load_configuration", lambda uuid: reads.append(uuid) or read(uuid))
    cfg = make_config(api, rateLimitPerMinute=0)
    for i in range(4):
        trigger(client, cfg, {"subject": f"#{i}"})
    assert len(reads) == 1

    def edit(**columns):
        with db.engine.begin() as conn:  # not through this process's API: its caches hear nothing
            sets = ", ".join(f"{name} = :{name}" for name in columns)
            conn.execute(text(f"UPDATE configurations SET {sets} WHERE uuid = :uuid"), {**columns, "uuid": cfg["uuid"]})

    def stored():
        db.session.rollback()
        count = db.session.query(Alert).count()
        db.session.rollback()
        return count

    before, stale = stored(), inbound.stale_retries
    edit(api_key="rotated-elsewhere")
    refused = send_alert(client, cfg, {"subject": "old key"})
    assert refused.status_code == 401, refused.get_json()
    assert inbound.stale_retries == stale + 1 and stored() == before
    rotated = dict(cfg, apiKey="rotated-elsewhere")
    assert send_alert(client, rotated, {"subject": "new key"}).status_code == 202
    assert stored() == before + 1

    edit(enabled=False)
    assert send_alert(client, rotated, {"subject": "disabled"}).status_code == 409
    edit(enabled=True, rate_limit_per_minute=1)
    clear_of_a_minute_edge()
    assert send_alert(client, rotated, {"subject": "one"}).status_code == 202
    limited = send_alert(client, rotated, {"subject": "two"})
    assert limited.status_code == 429, limited.get_json()
    assert stored() == before + 2
    assert api.delete(f"/api/v1/configurations/{cfg['uuid']}").status_code == 204
    assert send_alert(client, rotated, {"subject": "gone"}).status_code == 404
    assert cfg["uuid"] not in inbound._snapshots  # a deleted one is not tried again


def test_a_lost_version_row_is_written_again_with_a_version_nothing_cached(app, api, client, cache):
    from sqlalchemy import text

    from extensions import db

    cfg = make_config(api, rateLimitPerMinute=0)
    trigger(client, cfg, {"subject": "cached"})
    db.session.execute(text("DELETE FROM config_versions"))
    db.session.commit()
    trigger(client, cfg, {"subject": "row gone"})
    assert version() is not None
    assert api.patch(f"/api/v1/configurations/{cfg['uuid']}", json={"priority": "HIGH"}).status_code == 200
    trigger(client, cfg, {"subject": "after"})
    assert api.get("/api/v1/alerts", query_string={"configuration": cfg["uuid"]}).get_json()["items"][0][
        "priority"] == "HIGH"


@pytest.mark.slow
def test_changes_reach_the_next_alert_on_both_web_workers(live_klaxon, receiver):
    """Two gunicorn web workers, each with its own cache: after each change through the API (the
    configuration, its update endpoint, a flow, a maintenance window), every alert shows it, whichever
    worker takes it (each post on a new connection, and both caches warmed before the change)."""
    import requests

    from tests.reliability.conftest import Site

    klaxon = Site(live_klaxon(workers=1, web_workers=2))
    cfg = klaxon.configuration(priority="LOW")
    url = klaxon.trigger_url(cfg)

    def post_fresh(n, **body):
        answers = [requests.post(url, json={"subject": f"#{i}", **body}, headers={"Connection": "close"}, timeout=30)
                   for i in range(n)]
        assert {r.status_code for r in answers} == {202}, [r.text[:200] for r in answers]
        return [r.json() for r in answers]

    def stored():
        return {a["alertId"]: a for a in klaxon.alerts(configuration=cfg["uuid"])}

    post_fresh(8)
    klaxon.call("PATCH", f"/api/v1/configurations/{cfg['uuid']}", json={"priority": "HIGH"}, expect=200)
    after = post_fresh(10)
    alerts = stored()
    assert {alerts[a["alertId"]]["priority"] for a in after} == {"HIGH"}

    updates = {"status": {"enabled": True, "url": f"{receiver.url}/status"}}
    klaxon.call("PATCH", f"/api/v1/configurations/{cfg['uuid']}", json={"updates": updates}, expect=200)
    after = post_fresh(10)
    messaged = {m["eventIdentifier"] for m in klaxon.messages()}
    assert {a["eventIdentifier"] for a in after} <= messaged

    flow = klaxon.call("POST", f"/api/v1/configurations/{cfg['uuid']}/flows", expect=201,
                       json={"name": "Note", "trigger": {"type": "alert.created"}, "steps": []}).json()
    after = post_fresh(10)
    runs = klaxon.every(f"/api/v1/configurations/{cfg['uuid']}/flows/{flow['id']}/runs")
    assert {a["eventIdentifier"] for a in after} <= {r["eventIdentifier"] for r in runs}

    window = klaxon.call("POST", "/api/v1/maintenance-windows", json=window_body(), expect=201).json()
    assert {a.get("maintenance") for a in post_fresh(10)} == {window["id"]}
    klaxon.call("DELETE", f"/api/v1/maintenance-windows/{window['id']}")
    assert {a.get("maintenance") for a in post_fresh(10)} == {None}

    # what the request checks (the key, enabled) before the writer: each worker's snapshot gives way
    def statuses(to_url, n=10):
        return {requests.post(to_url, json={"subject": f"#{i}"}, headers={"Connection": "close"},
                              timeout=30).status_code for i in range(n)}

    rotated = klaxon.call("POST", f"/api/v1/configurations/{cfg['uuid']}/regenerate-key", expect=200).json()
    count = len(stored())
    assert statuses(url) == {401}
    assert len(stored()) == count
    url = klaxon.trigger_url(rotated)
    assert statuses(url) == {202}
    klaxon.call("PATCH", f"/api/v1/configurations/{cfg['uuid']}", json={"enabled": False}, expect=200)
    assert statuses(url) == {409}
    klaxon.call("PATCH", f"/api/v1/configurations/{cfg['uuid']}", json={"enabled": True}, expect=200)
    assert statuses(url) == {202}
