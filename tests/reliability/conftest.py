"""Fixtures of the reliability suite: a live `klaxon serve` driven through its REST API (``site``),
a Redis of our own to kill, and ``figures`` recorded to tests/artifacts/reliability.json."""
from __future__ import annotations

import fcntl
import json
import time
from pathlib import Path

import pytest
import requests

from tests.conftest import TEST_DB, TEST_REDIS
from tests.reliability.faults import OwnRedis, PostgresScratch
from tests.support import integration_path, trigger

ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
FIGURES = ARTIFACTS / "reliability.json"


class Site:
    """A running Klaxon seen from outside: its URL, an API token and helpers over the REST API."""

    def __init__(self, server):
        self.server = server
        self.token = server.create_token("reliability")
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {self.token}"

    @property
    def url(self):
        return self.server.url

    def call(self, method, path, expect=None, **kwargs):
        try:
            response = self.http.request(method, self.url + path, timeout=30, **kwargs)
        except requests.ConnectionError:
            # A GET on a kept-alive connection the server closed as it was reused is sent again on a
            # new one; a web worker that died would be the test's failure, so that must not be it.
            if method != "GET":
                raise
            self.no_web_worker_died()
            response = self.http.request(method, self.url + path, timeout=30, **kwargs)
        if expect is not None:
            assert response.status_code == expect, (method, path, response.status_code, response.text[:500])
        return response

    def no_web_worker_died(self):
        """The serve's log shows no web worker killed, timed out or booted again since it started."""
        text = self.server.log_text()
        booted = text.count("Booting worker with pid")
        web = int(self.server.env.get("KLAXON_WEB_WORKERS") or 2)
        starts = max(1, text.count("Klaxon is up on"))  # each start of the serve boots its web workers
        assert "WORKER TIMEOUT" not in text and "was sent SIG" not in text and booted <= web * starts, text[-3000:]

    def user(self, username, devices):
        """A responder with ``devices`` [(kind, name, target)], e.g. ("webhook", "Pager", url)."""
        body = {"username": username, "name": username.title(), "role": "responder",
                "devices": [{"kind": k, "name": n, "target": t} for k, n, t in devices]}
        return self.call("POST", "/api/v1/users", json=body, expect=201).json()

    def configuration(self, updates=None, recipients=(), **extra):
        """A webhook configuration with no rate limit; ``updates`` maps update type to URL."""
        updates = updates or {}
        body = {"template": "webhook", "name": extra.pop("name", "Reliability"), "rateLimitPerMinute": 0,
                "recipients": [{"id": r, "recipientType": "PERSON"} for r in recipients],
                "updates": {t: {"enabled": t in updates, "url": updates.get(t)}
                            for t in ("status", "delivery", "response")}, **extra}
        return self.call("POST", "/api/v1/configurations", json=body, expect=201).json()

    def trigger_url(self, cfg):
        return self.url + integration_path(cfg)

    def every(self, path, **params):
        """Every item of a list endpoint, following ``next``."""
        items, cursor = [], None
        for _ in range(1000):
            query = dict(params, limit=500, **({"cursor": cursor} if cursor else {}))
            page = self.call("GET", path, params=query, expect=200).json()
            items += page["items"]
            cursor = page["next"]
            if not cursor:
                return items
        raise AssertionError(f"{path} never ended")

    def alerts(self, **params):
        return self.every("/api/v1/alerts", **params)

    def messages(self, **params):
        return self.every("/api/v1/webhook-messages", **params)


@pytest.fixture
def own_redis():
    """With an external Redis (CI pass 2) a throw-away redis-server we may kill; else None (embedded)."""
    if not TEST_REDIS:
        yield None
        return
    redis = OwnRedis().start()
    yield redis
    redis.stop()


@pytest.fixture
def site(live_klaxon):
    """Factory: site(env=..., workers=..., **live_klaxon's options) -> a Site over a started `klaxon serve`
    (one RQ worker unless the test asks for more)."""
    def open_site(env=None, workers=1, **options):
        return Site(live_klaxon(env=env, workers=workers, **options))
    return open_site


@pytest.fixture
def figures(request):
    """A dict a test fills with its figures (counts, seconds); saved for docs/reliability.md."""
    found = {"mode": "postgresql+redis" if TEST_DB else "sqlite+embedded-redis"}
    started = time.monotonic()
    yield found
    found["seconds"] = round(time.monotonic() - started, 1)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with open(ARTIFACTS / "reliability.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # pytest-xdist workers save their figures one at a time
        try:
            saved = json.loads(FIGURES.read_text())
        except (OSError, ValueError):
            saved = {}
        saved[f"{request.node.name} [{found['mode']}]"] = found
        FIGURES.write_text(json.dumps(saved, indent=1, sort_keys=True))


@pytest.fixture
def seeded(app, api, client, run_jobs, receiver):
    """One of everything, in-process: a responder with a webhook device, a group, a configuration
    with response options and status updates, an alert notified and updated, a flow. Returns the ids
    the routes take, by argument name, and the response link the device received."""
    from extensions import db
    from models import Group, WebhookMessage

    user = api.post("/api/v1/users", json={"username": "bsmith", "name": "Bob Smith", "role": "responder",
                                           "devices": [{"name": "Pager", "kind": "webhook",
                                                        "target": f"{receiver.url}/page"}]})
    assert user.status_code == 201, user.get_json()
    assert api.post("/api/v1/groups", json={"name": "Ops", "members": ["bsmith"]}).status_code == 201
    cfg = api.post("/api/v1/configurations", json={
        "template": "webhook", "name": "Seed", "rateLimitPerMinute": 0,
        "recipients": [{"id": "bsmith", "recipientType": "PERSON"}],
        "responseOptions": [{"text": "Acknowledge", "action": "STOP_NOTIFYING_USER"},
                            {"text": "Resolve", "action": "END"}],
        "updates": {"status": {"enabled": True, "url": f"{receiver.url}/status"}}}).get_json()
    alert = trigger(client, cfg, {"subject": "Seed alert"})
    run_jobs()
    (page,) = receiver.wait_for(1, path="/page")
    flow = api.post(f"/api/v1/configurations/{cfg['uuid']}/flows", json={
        "name": "Note", "enabled": True, "trigger": {"type": "alert.created"},
        "steps": [{"name": "note", "type": "update_alert", "action": "comment", "comment": "seen"}]}).get_json()
    window = api.post("/api/v1/maintenance-windows", json={  # over long ago: it holds nothing
        "name": "Seed window", "start": "2026-01-01T00:00", "end": "2026-01-01T01:00",
        "configurations": "all"}).get_json()
    message = db.session.query(WebhookMessage).order_by(WebhookMessage.id).first()
    links = ["/respond/" + r["url"].rsplit("/", 1)[1] for r in json.loads(page["body"])["responses"]]
    return {"config_uuid": cfg["uuid"], "event_id": alert["eventIdentifier"], "alert_id": alert["alertId"],
            "message_id": message.id, "msg_id": message.msg_id, "username": "bsmith",
            "device_id": user.get_json()["devices"][0]["deviceId"], "name": "Ops",
            "group_id": db.session.query(Group.id).filter_by(name="Ops").scalar(), "flow_id": flow["id"],
            "token": links[0].rsplit("/", 1)[1], "filename": "klaxon.css", "configuration": cfg,
            "link_path": links[0], "other_link_path": links[1], "override_id": 1,
            "window_id": window["id"], "update_type": "status"}


@pytest.fixture
def routes(app, seeded):
    """Every (endpoint, method, url) of Flask's URL map, its arguments filled from ``seeded``."""
    found = []
    for rule in app.url_map.iter_rules():
        values = {}
        for arg in rule.arguments:
            assert arg in seeded, f"no seeded value for <{arg}> of {rule.rule}: add one to the seeded fixture"
            values[arg] = seeded[arg]
        url = rule.build(values, append_unknown=False)[1]
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((rule.endpoint, method, url))
    return found


@pytest.fixture
def app_errors(app):
    """The app answers errors as in production (a 500 page) instead of raising into the test."""
    app.testing = False
    app.config["PROPAGATE_EXCEPTIONS"] = False
    return app


@pytest.fixture
def fingerprint(app):
    """A function counting the rows a request could change, to show that one changed nothing."""
    from extensions import db
    from models import Alert, Configuration, Flow, Group, Response, TimelineEntry, User, WebhookMessage

    def count():
        db.session.expire_all()
        return {model.__name__: db.session.query(model).count()
                for model in (Alert, Configuration, Flow, Group, Response, TimelineEntry, User, WebhookMessage)}
    return count


@pytest.fixture
def scratch_database():
    """A PostgreSQL database of the test's own, which it may shut to connections (PostgreSQL only:
    SQLite's unavailability is a held lock, covered by test_database_down.py and test_sqlite_lock_bounded.py)."""
    if not TEST_DB:
        pytest.skip("PostgreSQL only: CI pass 2 (SQLite's unavailability is a held lock, tested on its own)")
    scratch = PostgresScratch(TEST_DB.replace("postgresql+psycopg://", "postgresql://", 1)).create()
    yield scratch
    scratch.drop()
