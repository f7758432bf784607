"""Flows end to end: a response on an alert runs a flow in the worker that calls a real HTTP service
and opens an alert in another configuration; a service that is down fails the run, not the alert."""
import json
import re

import pytest
from flask import g
from markupsafe import escape

from tests.conftest import csrf_from
from tests.support import free_port
from tests.test_flows_api import flows_url, spec_flow
from tests.test_inbound import post


@pytest.fixture
def setup(api):
    """Configuration A (with the "Escalate to DBA" option), configuration B, and bsmith to respond."""
    assert api.post("/api/v1/users", json={"username": "bsmith", "name": "Bob Smith", "role": "responder"}) \
        .status_code == 201
    options = [{"text": "Acknowledge", "action": "STOP_NOTIFYING_USER"},
               {"text": "Escalate to DBA", "action": "RECORD_RESPONSE"}]
    a = api.post("/api/v1/configurations", json={"name": "Monitoring", "responseOptions": options}).get_json()
    b = api.post("/api/v1/configurations", json={"name": "DBA pager"}).get_json()
    return a, b


def respond(api, alert, option):
    response = api.post(f"/api/v1/alerts/{alert['alertId']}/responses",
                        json={"recipient": "bsmith", "response": option})
    assert response.status_code == 201, response.get_json()


def alerts_in(api, config):
    return api.get(f"/api/v1/alerts?configuration={config['uuid']}").get_json()["items"]


@pytest.mark.parametrize("priority", ["HIGH", "LOW"])
def test_escalate_to_dba_opens_a_ticket_and_pages_the_dbas(api, client, setup, receiver, run_jobs, priority):
    a, b = setup
    receiver.script = [(201, {"Content-Type": "application/json"}, {"ticket": "T-42"})]
    flow = api.post(flows_url(a), json=spec_flow(b["uuid"], url=receiver.url + "/api")).get_json()
    alert = post(client, a, {"subject": "Disk full on db-1", "priority": priority}).get_json()
    run_jobs()
    assert api.get(flows_url(a, flow["id"], "runs")).get_json()["items"] == []  # created: not this trigger

    respond(api, alert, "Acknowledge")
    run_jobs()
    assert api.get(flows_url(a, flow["id"], "runs")).get_json()["items"] == []  # another option

    respond(api, alert, "escalate to dba")
    [pending] = api.get(flows_url(a, flow["id"], "runs")).get_json()["items"]
    assert pending["status"] == "pending" and receiver.requests == []  # the request only queued it
    assert pending["trigger"]["response"] == "Escalate to DBA" and pending["trigger"]["recipient"] == "bsmith"
    run_jobs()

    [run] = api.get(flows_url(a, flow["id"], "runs")).get_json()["items"]
    assert run["status"] == "succeeded", run
    assert receiver.json_bodies("/api") == [{"title": "Disk full on db-1"}]
    assert receiver.requests[0]["headers"]["Content-Type"] == "application/json"
    ticket = run["steps"][0]
    assert ticket["output"]["status"] == 201 and ticket["output"]["json"] == {"ticket": "T-42"}
    assert ticket["error"] is None and ticket["durationMs"] >= 0
    paged = alerts_in(api, b)
    detail = api.get(f"/api/v1/alerts/{alert['alertId']}").get_json()
    if priority == "HIGH":
        assert [s["name"] for s in run["steps"]] == ["ticket", "route", "page_dba"]
        [dba] = paged
        assert dba["subject"] == "DBA needed: Disk full on db-1" and dba["properties"] == {"Ticket": "T-42"}
        assert run["steps"][2]["output"]["alertId"] == dba["alertId"]
        assert dba["priority"] == "MEDIUM"  # configuration B's default: the step set none
    else:
        assert [s["name"] for s in run["steps"]] == ["ticket", "route", "note"] and paged == []
        assert any(t["type"] == "EVENT_ANNOTATED" and t["detail"]["comment"] == "ticket T-42"
                   for t in detail["timeline"])
    flow_runs = [t for t in detail["timeline"] if t["type"] == "FLOW_RUN"]
    assert [(t["detail"]["flow"], t["detail"]["status"]) for t in flow_runs] == [("Escalate to DBA", "succeeded")]
    assert detail["status"] == "ACTIVE"


def test_a_service_that_is_down_fails_the_run_and_leaves_the_alert_alone(api, client, setup, run_jobs):
    a, b = setup
    closed = f"http://127.0.0.1:{free_port()}/tickets"  # nothing listens there
    flow = api.post(flows_url(a), json={
        "name": "Ticket", "trigger": {"type": "alert.created"},
        "steps": [{"name": "ticket", "type": "http_request", "url": closed, "body": "{}"},
                  {"name": "page", "type": "create_alert", "configuration": b["uuid"], "subject": "never"}]}).get_json()
    alert = post(client, a, {"subject": "Disk full on db-1", "properties": {"Host": "db-1"}}).get_json()
    run_jobs()
    [run] = api.get(flows_url(a, flow["id"], "runs")).get_json()["items"]
    assert run["status"] == "failed" and "connection_refused" in run["error"]
    [step] = run["steps"]
    assert step["status"] == "failed" and step["error"].startswith("connection_refused")
    assert step["output"]["status"] is None and step["input"]["url"] == closed
    assert alerts_in(api, b) == []
    detail = api.get(f"/api/v1/alerts/{alert['alertId']}").get_json()
    assert detail["status"] == "ACTIVE" and detail["properties"] == {"Host": "db-1"}
    assert [t["type"] for t in detail["timeline"]][-1] == "FLOW_RUN"
    assert detail["timeline"][-1]["detail"]["status"] == "failed"


def test_a_delivery_runs_a_flow_that_sees_the_notification(api, client, setup, receiver, run_jobs):
    a, _b = setup
    assert api.post("/api/v1/users/bsmith/devices", json={"name": "Ops hook", "kind": "webhook",
                                                          "target": receiver.url + "/page"}).status_code == 201
    assert api.patch(f"/api/v1/configurations/{a['uuid']}",
                     json={"recipients": [{"id": "bsmith", "recipientType": "PERSON"}]}).status_code == 200
    flow = api.post(flows_url(a), json={
        "name": "Delivered", "trigger": {"type": "notification.delivery"},
        "steps": [{"name": "note", "type": "update_alert", "action": "comment",
                   "comment": "{{ trigger.deliveryStatus }} to {{ trigger.recipient }} via {{ trigger.device }}"}]})
    alert = post(client, a, {"subject": "Disk full on db-1"}).get_json()
    run_jobs()
    assert receiver.wait_for(1, path="/page")
    [run] = api.get(flows_url(a, flow.get_json()["id"], "runs")).get_json()["items"]
    assert run["status"] == "succeeded" and run["trigger"]["deliveryStatus"] == "Delivered"
    detail = api.get(f"/api/v1/alerts/{alert['alertId']}").get_json()
    assert any(t["detail"].get("comment") == "Delivered to bsmith via Ops hook" for t in detail["timeline"])


def test_an_address_the_guard_refuses_fails_at_connect_time(api, client, setup, run_jobs):
    a, _b = setup
    flow = api.post(flows_url(a), json={
        "name": "Sneaky", "trigger": {"type": "alert.created"},
        "steps": [{"name": "meta", "type": "http_request", "url": "http://{{ alert.properties.Host }}/latest",
                   "method": "GET"}]}).get_json()
    post(client, a, {"subject": "probe", "properties": {"Host": "169.254.169.254"}})
    run_jobs()
    [run] = api.get(flows_url(a, flow["id"], "runs")).get_json()["items"]
    assert run["status"] == "failed" and run["steps"][0]["error"].startswith("ssrf")


# The Flows tab of the dashboard: the same flows through forms, a diagram, and runs step by step.
def flow_form(token, step_list, **overrides):
    form = {"csrf_token": token, "name": "Escalate to DBA", "enabled": "on", "triggerType": "alert.response",
            "triggerResponse": "Escalate to DBA", "triggerStatus": "", "steps": json.dumps(step_list)}
    form.update(overrides)
    return form


@pytest.fixture
def token(admin_client):
    return csrf_from(admin_client.get("/alerts").get_data(as_text=True))


def test_the_flows_tab_creates_a_flow_and_draws_it(api, admin_client, token, setup):
    a, b = setup
    base = f"/integrations/{a['uuid']}/flows/"
    assert "No flows yet" in admin_client.get(base).get_data(as_text=True)
    steps = spec_flow(b["uuid"])["steps"]
    saved = admin_client.post(base + "new", data=flow_form(token, steps))
    assert saved.status_code == 302
    flow = api.get(flows_url(a)).get_json()["items"][0]
    assert flow["trigger"] == {"type": "alert.response", "response": "Escalate to DBA"} and flow["steps"] == steps
    page = admin_client.get(saved.headers["Location"]).get_data(as_text=True)
    svg = page[page.index("<svg"):page.index("</svg>")]
    assert [n for n in ("When", "ticket", "route", "page_dba", "note") if f'data-step="{n}"' in svg] == \
        ["When", "ticket", "route", "page_dba", "note"]
    boxes = dict(re.findall(r'data-step="(\w+)"[^>]*>\s*<rect x="([\d.]+)"', svg))
    assert float(boxes["page_dba"]) < float(boxes["note"])  # the HIGH and default branches side by side
    assert ">HIGH</text>" in svg and ">default</text>" in svg
    assert "Escalate to DBA" in admin_client.get(base).get_data(as_text=True)


@pytest.mark.parametrize("steps, words", [
    ("[{", "is not valid JSON"),
    (json.dumps([{"name": "r", "type": "switch", "value": "x", "cases": {"HIGH": [{"name": "p", "type": "x"}]}}]),
     "steps[0].cases.HIGH[0].type: must be one of"),
])
def test_the_flows_tab_shows_a_steps_error_beside_the_editor(admin_client, token, setup, steps, words):
    a, _b = setup
    response = admin_client.post(f"/integrations/{a['uuid']}/flows/new", data=flow_form(token, [], steps=steps))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    editor = page[page.index('id="steps"'):page.index("</textarea>") + 400]
    assert escape(words) in editor
    assert escape(steps) in page  # what was typed is kept


def test_the_flows_tab_reorders_toggles_and_runs_with_a_sample(api, admin_client, token, setup, run_jobs):
    a, _b = setup
    steps = [{"name": "one", "type": "update_alert", "action": "comment", "comment": "1"},
             {"name": "two", "type": "update_alert", "action": "comment", "comment": "2"}]
    saved = admin_client.post(f"/integrations/{a['uuid']}/flows/new", data=flow_form(token, steps))
    flow_url = saved.headers["Location"]
    flow = api.get(flows_url(a)).get_json()["items"][0]
    admin_client.post(flow_url + "/move", data={"csrf_token": token, "index": "0", "direction": "down"})
    assert [s["name"] for s in api.get(flows_url(a, flow["id"])).get_json()["steps"]] == ["two", "one"]
    admin_client.post(flow_url + "/toggle", data={"csrf_token": token})
    assert api.get(flows_url(a, flow["id"])).get_json()["enabled"] is False
    admin_client.post(flow_url + "/test", data={"csrf_token": token, "alert": ""})
    polling = admin_client.get(flow_url + "/runs", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert 'hx-trigger="load delay:1s"' in polling and "badge-pending" in polling
    run_jobs()
    g.pop("_login_user", None)  # the test's one app context outlives the session the worker closed
    fragment = admin_client.get(flow_url + "/runs", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "hx-trigger" not in fragment and "badge-succeeded" in fragment and "sample alert" in fragment
    assert fragment.count('class="step-row"') == 2 and "dryRun" in fragment
