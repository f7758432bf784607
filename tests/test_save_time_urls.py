"""The one save-time URL check (alerting.outbound.ssrf.check_url_for_save): update URLs, webhook
devices and flows' http_request steps refuse a URL that does not resolve to an allowed address,
naming the field, and a URL that did not change is not checked again."""
import socket

import pytest

from tests.conftest import csrf_from
from tests.test_flows_api import flows_url

UNRESOLVABLE = "http://no-such-host.invalid/hook"
STALE = "http://hooks.example/hook"  # resolves while it is saved, then no longer


@pytest.fixture
def stale_host(monkeypatch):
    """``hooks.example`` resolves (to loopback, which tests allow) until the returned function is called."""
    real = socket.getaddrinfo
    state = {"resolves": True}

    def getaddrinfo(host, port, *args, **kwargs):
        if host == "hooks.example":
            if not state["resolves"]:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
            return real("127.0.0.1", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return lambda: state.update(resolves=False)


def config(api, **fields):
    response = api.post("/api/v1/configurations", json={"template": "webhook", "name": "Monitoring", **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def flow(api, cfg, url, name="Call"):
    return api.post(flows_url(cfg), json={"name": name, "trigger": {"type": "alert.created"},
                                          "steps": [{"name": "call", "type": "http_request", "url": url}]})


def user(api, target, username="bsmith"):
    return api.post("/api/v1/users", json={"username": username,
                                           "devices": [{"name": "Hook", "kind": "webhook", "target": target}]})


def refused(response, field):
    body = response.get_json()
    assert response.status_code == 400, body
    assert body["field"] == field and body["message"].startswith(field), body
    assert "no-such-host.invalid does not resolve" in body["message"], body


def test_an_update_url_that_does_not_resolve_is_refused_naming_the_field(api):
    response = api.post("/api/v1/configurations", json={
        "template": "webhook", "name": "Monitoring", "updates": {"status": {"enabled": True, "url": UNRESOLVABLE}}})
    refused(response, "updates.status.url")


def test_a_webhook_device_that_does_not_resolve_is_refused_naming_the_field(api):
    refused(user(api, UNRESOLVABLE), "devices[0].target")
    user(api, "http://127.0.0.1:9/hook", username="jdoe")
    added = api.post("/api/v1/users/jdoe/devices", json={"name": "Other", "kind": "webhook", "target": UNRESOLVABLE})
    refused(added, "target")


def test_a_flow_step_url_that_does_not_resolve_is_refused_naming_the_field(api):
    refused(flow(api, config(api), UNRESOLVABLE), "steps[0].url")


def test_a_stale_unchanged_update_url_does_not_block_saving_another_field(api, stale_host):
    cfg = config(api, updates={"status": {"enabled": True, "url": STALE}})
    stale_host()
    url = f"/api/v1/configurations/{cfg['uuid']}"
    assert api.patch(url, json={"name": "Renamed"}).status_code == 200
    same = {"status": {"enabled": True, "url": STALE}, "delivery": {"enabled": True, "url": "http://127.0.0.1:9/d"}}
    response = api.patch(url, json={"updates": same})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["updates"]["delivery"]["url"] == "http://127.0.0.1:9/d"
    changed = api.patch(url, json={"updates": {"status": {"enabled": True, "url": STALE + "/v2"}}})
    assert changed.status_code == 400 and changed.get_json()["field"] == "updates.status.url"


def test_a_stale_unchanged_update_url_does_not_block_the_dashboard_form(api, admin_client, stale_host):
    cfg = config(api, updates={"status": {"enabled": True, "url": STALE}})
    stale_host()
    token = csrf_from(admin_client.get("/alerts").get_data(as_text=True))
    response = admin_client.post(f"/integrations/{cfg['uuid']}/updates", headers={"HX-Request": "true"}, data={
        "csrf_token": token, "status_enabled": "on", "status_url": STALE,
        "delivery_enabled": "on", "delivery_url": "http://127.0.0.1:9/d"})
    assert response.status_code == 200 and "Saved" in response.get_data(as_text=True)
    updates = api.get(f"/api/v1/configurations/{cfg['uuid']}").get_json()["updates"]
    assert updates["delivery"]["url"] == "http://127.0.0.1:9/d" and updates["status"]["url"] == STALE


def test_a_stale_unchanged_device_target_does_not_block_saving_the_user(api, stale_host):
    created = user(api, STALE)
    assert created.status_code == 201, created.get_json()
    stale_host()
    device = created.get_json()["devices"][0]
    kept = api.patch("/api/v1/users/bsmith", json={"name": "Bob", "devices": [
        {"deviceId": device["deviceId"], "name": "Hook", "kind": "webhook", "target": STALE}]})
    assert kept.status_code == 200, kept.get_json()
    renamed = api.patch(f"/api/v1/users/bsmith/devices/{device['deviceId']}", json={"name": "Pager"})
    assert renamed.status_code == 200, renamed.get_json()
    moved = api.patch(f"/api/v1/users/bsmith/devices/{device['deviceId']}", json={"target": STALE + "/v2"})
    assert moved.status_code == 400 and moved.get_json()["field"] == "target"


def test_a_stale_unchanged_flow_step_url_does_not_block_saving_the_flow(api, stale_host):
    cfg = config(api)
    created = flow(api, cfg, STALE)
    assert created.status_code == 201, created.get_json()
    stale_host()
    renamed = api.patch(flows_url(cfg, created.get_json()["id"]), json={"name": "Call (renamed)"})
    assert renamed.status_code == 200, renamed.get_json()
    steps = [{"name": "call", "type": "http_request", "url": STALE},
             {"name": "again", "type": "http_request", "url": STALE + "/v2"}]
    changed = api.patch(flows_url(cfg, created.get_json()["id"]), json={"steps": steps})
    assert changed.status_code == 400 and changed.get_json()["field"] == "steps[1].url"
