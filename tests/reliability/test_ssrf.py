"""SSRF: with KLAXON_WEBHOOK_ALLOW_CIDRS allowing nothing (as in production), metadata, private,
loopback (IPv4 and IPv6) addresses and names that resolve to them are refused when an update
URL, a device or a flow request URL is saved, and again when Klaxon connects: a target saved
while the setting allowed it reaches nothing once the allowance is withdrawn."""
import dataclasses
import ipaddress

import pytest

from extensions import db
from models import FlowRun, Notification, WebhookAttempt, WebhookMessage
from tests.support import make_config, send_alert

LITERALS = ["http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/hook", "http://[::1]:8080/hook",
            "http://localhost:8080/hook", "http://127.0.0.1:8080/hook", "http://0.0.0.0:8080/hook",
            "http://192.168.1.1/hook", "http://[::ffff:127.0.0.1]:8080/hook",
            "http://[fd00:ec2::254]/latest/meta-data/", "http://100.64.0.1/hook"]
NAMES = ["http://2130706433:8080/hook"]  # a name the resolver turns into 127.0.0.1
BRIEF = LITERALS[:4]  # metadata, private, IPv6 loopback, localhost


@pytest.fixture
def settings_env():
    return {"KLAXON_WEBHOOK_ALLOW_CIDRS": ""}


@pytest.fixture
def allow_loopback_while_saving(app):
    """Call it to allow 127.0.0.0/8 (saving), call the result to withdraw it (before connecting)."""
    settings = app.config["KLAXON"]

    def allow():
        app.config["KLAXON"] = dataclasses.replace(settings, webhook_allow_cidrs=(ipaddress.ip_network("127.0.0.0/8"),))
        return lambda: app.config.__setitem__("KLAXON", settings)
    return allow


def user(api, kind, target):
    return api.post("/api/v1/users", json={"username": "bsmith", "name": "Bob", "role": "responder",
                                           "devices": [{"name": "Hook", "kind": kind, "target": target}]})


def trigger(api, client, withdraw=None, **extra):
    """A configuration (saved before ``withdraw()`` takes the allowance back) and one alert of it."""
    cfg = make_config(api, name="Later", **extra)
    if withdraw:
        withdraw()
    assert send_alert(client, cfg, {"subject": "after the allowance went"}).status_code == 202
    return cfg


@pytest.mark.parametrize("url", LITERALS + NAMES)
def test_an_update_url_refuses_a_non_public_address(api, url):
    response = api.post("/api/v1/configurations", json={
        "template": "webhook", "name": "SSRF", "updates": {"status": {"enabled": True, "url": url}}})
    assert response.status_code == 400 and "url" in response.get_json()["field"], response.get_json()


@pytest.mark.parametrize("url", LITERALS + NAMES)
def test_a_flow_request_url_refuses_a_non_public_address(api, url):
    cfg = api.post("/api/v1/configurations", json={"template": "webhook", "name": "Flows"}).get_json()
    flow = api.post(f"/api/v1/configurations/{cfg['uuid']}/flows", json={
        "name": "Call", "trigger": {"type": "alert.created"},
        "steps": [{"name": "call", "type": "http_request", "method": "POST", "url": url}]})
    assert flow.status_code == 400, flow.get_json()


@pytest.mark.parametrize("kind, url", [("webhook", u) for u in BRIEF]
                         + [("apprise", u.replace("http://", "json://", 1)) for u in BRIEF])
def test_a_device_refuses_a_non_public_address(api, kind, url):
    response = user(api, kind, url)
    assert response.status_code == 400, response.get_json()


def test_an_update_url_saved_while_allowed_reaches_nothing_once_it_is_not(
        api, client, receiver, run_jobs, allow_loopback_while_saving):
    updates = {"status": {"enabled": True, "url": f"{receiver.url}/status"}}
    cfg = trigger(api, client, updates=updates, withdraw=allow_loopback_while_saving())
    run_jobs()
    assert receiver.requests == [], f"an update of {cfg['uuid']} went to a loopback address no longer allowed"
    attempt = db.session.query(WebhookAttempt).first()
    assert attempt.status_code is None and attempt.error_class, (attempt.error_class, attempt.error)
    assert db.session.query(WebhookMessage).one().status != "delivered"


@pytest.mark.parametrize("kind, scheme", [("webhook", "http"), ("apprise", "json")])
def test_a_device_saved_while_allowed_reaches_nothing_once_it_is_not(
        api, client, receiver, run_jobs, allow_loopback_while_saving, kind, scheme):
    withdraw = allow_loopback_while_saving()
    assert user(api, kind, f"{scheme}://127.0.0.1:{receiver.server.server_address[1]}/page").status_code == 201
    withdraw()
    trigger(api, client, recipients=[{"id": "bsmith", "recipientType": "PERSON"}])
    run_jobs()
    assert receiver.requests == [], f"a {kind} device reached a loopback address that is not allowed"
    assert db.session.query(Notification).one().status != "Delivered"


def test_a_flow_request_to_a_name_of_a_private_address_is_refused_when_it_runs(
        api, client, receiver, run_jobs, allow_loopback_while_saving):
    cfg = api.post("/api/v1/configurations", json={"template": "webhook", "name": "Flows"}).get_json()
    target = f"http://2130706433:{receiver.server.server_address[1]}/flow"
    withdraw = allow_loopback_while_saving()  # names are resolved and checked on save too
    flow = api.post(f"/api/v1/configurations/{cfg['uuid']}/flows", json={
        "name": "Call", "enabled": True, "trigger": {"type": "alert.created"},
        "steps": [{"name": "call", "type": "http_request", "method": "POST", "url": target}]})
    assert flow.status_code == 201, flow.get_json()
    withdraw()
    send_alert(client, cfg, {"subject": "x"})
    run_jobs()
    assert receiver.requests == [], "a flow step reached a loopback address"
    (run,) = db.session.query(FlowRun).all()
    assert run.status == "failed", (run.status, run.steps)
