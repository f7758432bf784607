"""/api/v1/configurations/<uuid>/flows: create, list, read, change, delete, runs and test runs (SPEC §5)."""
import copy

import pytest

from extensions import db
from models import FlowRun


@pytest.fixture
def configs(api):
    made = []
    for name in ("A", "B"):
        response = api.post("/api/v1/configurations", json={
            "name": name, "responseOptions": [{"text": "Escalate to DBA", "action": "RECORD_RESPONSE"}]})
        assert response.status_code == 201
        made.append(response.get_json())
    return made


def spec_flow(other_uuid, url="http://127.0.0.1:9/api"):
    """The example of SPEC §5, word for word but for the URLs."""
    return {"name": "Escalate to DBA", "enabled": True,
            "trigger": {"type": "alert.response", "response": "Escalate to DBA"},
            "steps": [
                {"name": "ticket", "type": "http_request", "method": "POST", "url": url,
                 "headers": {"Content-Type": "application/json"},
                 "body": "{\"title\": {{ alert.subject | tojson }}}"},
                {"name": "route", "type": "switch", "value": "{{ alert.priority }}",
                 "cases": {"HIGH": [{"name": "page_dba", "type": "create_alert", "configuration": other_uuid,
                                     "subject": "DBA needed: {{ alert.subject }}",
                                     "properties": {"Ticket": "{{ steps.ticket.json.ticket }}"}}],
                           "default": [{"name": "note", "type": "update_alert", "action": "comment",
                                        "comment": "ticket {{ steps.ticket.json.ticket }}"}]}}]}


def flows_url(config, *rest):
    return "/".join([f"/api/v1/configurations/{config['uuid']}/flows", *map(str, rest)])


def test_it_needs_a_bearer_token(client, configs):
    assert client.get(flows_url(configs[0])).status_code == 401


def test_it_creates_the_flow_of_the_spec_and_reads_it_back(api, configs):
    a, b = configs
    example = spec_flow(b["uuid"], url="http://127.0.0.1:9/api")  # loopback is allowed in tests: no DNS needed to save it
    response = api.post(flows_url(a), json=example)
    assert response.status_code == 201, response.get_json()
    flow = response.get_json()
    assert flow["id"] == flow["flowId"] and flow["configuration"] == a["uuid"]
    assert flow["name"] == "Escalate to DBA" and flow["enabled"] is True
    assert flow["trigger"] == {"type": "alert.response", "response": "Escalate to DBA"}
    assert flow["steps"] == example["steps"]
    assert api.get(flows_url(a, flow["id"])).get_json() == flow
    listing = api.get(flows_url(a)).get_json()
    assert [f["id"] for f in listing["items"]] == [flow["id"]] and listing["next"] is None
    assert api.get(flows_url(b)).get_json()["items"] == []


def with_change(flow, path, value):
    """A copy of ``flow`` with the value at ``path`` (keys and indexes) replaced, or deleted when None."""
    flow = copy.deepcopy(flow)
    target = flow
    for key in path[:-1]:
        target = target[key]
    if value is None:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return flow


BAD = [
    (("name",), "", "name"),
    (("trigger",), {"type": "alert.deleted"}, "trigger.type"),
    (("trigger",), {"type": "alert.created", "response": "Escalate to DBA"}, "trigger.response"),
    (("trigger",), {"type": "alert.status", "status": "GONE"}, "trigger.status"),
    (("steps", 0, "type"), "shell", "steps[0].type"),
    (("steps", 0, "url"), None, "steps[0].url"),
    (("steps", 0, "url"), "http://10.0.0.1/tickets", "steps[0].url"),
    (("steps", 0, "url"), "ftp://127.0.0.1/tickets", "steps[0].url"),
    (("steps", 0, "method"), "BREW", "steps[0].method"),
    (("steps", 0, "body"), "{{ alert.subject ", "steps[0].body"),
    (("steps", 0, "headers"), ["Content-Type"], "steps[0].headers"),
    (("steps", 0, "timeout"), 5, "steps[0].timeout"),
    (("steps", 1, "name"), "ticket", "steps[1].name"),
    (("steps", 1, "name"), "has space", "steps[1].name"),
    (("steps", 1, "cases", "HIGH", 0, "type"), "page_everyone", "steps[1].cases.HIGH[0].type"),
    (("steps", 1, "cases", "HIGH", 0, "configuration"), "no-such-uuid", "steps[1].cases.HIGH[0].configuration"),
    (("steps", 1, "cases", "HIGH", 0, "priority"), "URGENT", "steps[1].cases.HIGH[0].priority"),
    (("steps", 1, "cases", "HIGH", 0, "properties"), {"Ticket": {"nested": "no"}},
     "steps[1].cases.HIGH[0].properties.Ticket"),
    (("steps", 1, "cases", "default", 0, "action"), "delete", "steps[1].cases.default[0].action"),
    (("steps", 1, "cases", "default", 0, "comment"), None, "steps[1].cases.default[0].comment"),
    (("steps", 1, "cases"), {}, "steps[1].cases"),
    (("steps", 1, "default"), [], "steps[1].default"),
]


@pytest.mark.parametrize("path, value, field", BAD)
def test_it_rejects_a_bad_definition_naming_the_field(api, configs, path, value, field):
    a, b = configs
    response = api.post(flows_url(a), json=with_change(spec_flow(b["uuid"]), path, value))
    assert response.status_code == 400
    body = response.get_json()
    assert body["field"] == field, body
    assert body["message"].startswith(field)
    assert api.get(flows_url(a)).get_json()["items"] == []


def test_it_caps_the_number_of_steps(api, configs):
    steps = [{"name": f"s{i}", "type": "update_alert", "action": "comment", "comment": "hi"} for i in range(51)]
    response = api.post(flows_url(configs[0]), json={"name": "Big", "trigger": {"type": "alert.created"},
                                                     "steps": steps})
    assert response.status_code == 400 and response.get_json()["field"] == "steps[50]"


def test_it_changes_only_the_fields_sent_and_checks_the_whole_again(api, configs):
    a, b = configs
    flow = api.post(flows_url(a), json=spec_flow(b["uuid"])).get_json()
    changed = api.patch(flows_url(a, flow["id"]), json={"enabled": False, "name": "Escalate (off)"})
    assert changed.status_code == 200
    assert changed.get_json()["enabled"] is False and changed.get_json()["steps"] == flow["steps"]
    refused = api.patch(flows_url(a, flow["id"]), json={"steps": [{"name": "x", "type": "switch"}]})
    assert refused.status_code == 400 and refused.get_json()["field"] == "steps[0].value"
    assert api.get(flows_url(a, flow["id"])).get_json()["name"] == "Escalate (off)"


def test_it_refuses_a_second_flow_with_the_same_name(api, configs):
    a, b = configs
    assert api.post(flows_url(a), json=spec_flow(b["uuid"])).status_code == 201
    response = api.post(flows_url(a), json=spec_flow(b["uuid"]))
    assert response.status_code == 409 and "Escalate to DBA" in response.get_json()["message"]
    assert api.post(flows_url(b), json=spec_flow(a["uuid"])).status_code == 201


def test_it_deletes_a_flow_with_its_runs(api, configs):
    a, b = configs
    flow = api.post(flows_url(a), json=spec_flow(b["uuid"])).get_json()
    assert api.post(flows_url(a, flow["id"], "test")).status_code == 202
    assert api.delete(flows_url(a, flow["id"])).status_code == 204
    assert api.get(flows_url(a, flow["id"])).status_code == 404
    assert db.session.query(FlowRun).count() == 0


def test_a_flow_is_found_only_under_its_own_configuration(api, configs):
    a, b = configs
    flow = api.post(flows_url(a), json=spec_flow(b["uuid"])).get_json()
    assert api.get(flows_url(b, flow["id"])).status_code == 404
    assert api.get(f"/api/v1/configurations/nope/flows/{flow['id']}").status_code == 404


def test_a_test_run_on_the_sample_alert_waits_for_a_worker_and_is_a_dry_run(api, configs, receiver, run_jobs):
    a, b = configs
    receiver.script = [(200, {"Content-Type": "application/json"}, {"ticket": "T-7"})]
    flow = api.post(flows_url(a), json=spec_flow(b["uuid"], url=receiver.url + "/api")).get_json()
    queued = api.post(flows_url(a, flow["id"], "test"))
    assert queued.status_code == 202
    assert queued.get_json()["status"] == "pending" and queued.get_json()["sampleAlert"] is True
    assert receiver.requests == []  # nothing runs in the request
    run_jobs()
    runs = api.get(flows_url(a, flow["id"], "runs")).get_json()
    assert runs["next"] is None
    [run] = runs["items"]
    assert run["status"] == "succeeded" and run["startedAt"] and run["finishedAt"]
    assert receiver.json_bodies() == [{"title": "Disk full on db-1"}]
    ticket, route, note = run["steps"]
    assert set(ticket) == {"name", "type", "status", "input", "output", "error", "durationMs"}
    assert ticket["status"] == "succeeded" and ticket["output"]["json"] == {"ticket": "T-7"}
    assert ticket["input"]["url"] == receiver.url + "/api"
    assert route["output"] == {"value": "MEDIUM", "branch": "default"}  # the sample has the default priority
    assert note["status"] == "skipped" and note["output"]["dryRun"] is True
    assert note["input"] == {"action": "comment", "comment": "ticket T-7"}
    assert api.get("/api/v1/alerts").get_json()["items"] == []  # the sample made no alert


def test_a_test_run_on_a_chosen_alert_acts_on_it(api, client, configs, run_jobs):
    a, _b = configs
    flow = api.post(flows_url(a), json={"name": "Note", "trigger": {"type": "alert.created"}, "enabled": False,
                                        "steps": [{"name": "note", "type": "update_alert", "action": "comment",
                                                   "comment": "seen {{ alert.subject }}"}]}).get_json()
    alert = client.post(f"{a['integrationUrl']}", json={"subject": "Disk full"}).get_json()
    assert alert["status"] == "ACTIVE"
    run_jobs()
    assert api.get(flows_url(a, flow["id"], "runs")).get_json()["items"] == []  # disabled: no run by itself
    queued = api.post(flows_url(a, flow["id"], "test"), json={"alertId": alert["alertId"]})
    assert queued.status_code == 202 and queued.get_json()["eventIdentifier"] == alert["eventIdentifier"]
    run_jobs()
    timeline = api.get(f"/api/v1/alerts/{alert['alertId']}").get_json()["timeline"]
    assert {"type": "EVENT_ANNOTATED", "comment": "seen Disk full"}.items() <= \
        {"type": timeline[-2]["type"], **timeline[-2]["detail"]}.items()
    assert timeline[-1]["type"] == "FLOW_RUN" and timeline[-1]["detail"]["status"] == "succeeded"


def test_a_test_run_refuses_an_alert_of_another_configuration(api, client, configs):
    a, b = configs
    flow = api.post(flows_url(a), json=spec_flow(b["uuid"])).get_json()
    other = client.post(b["integrationUrl"], json={"subject": "elsewhere"}).get_json()
    response = api.post(flows_url(a, flow["id"], "test"), json={"alertId": other["eventIdentifier"]})
    assert response.status_code == 400 and response.get_json()["field"] == "alertId"


def test_runs_come_newest_first_in_pages(api, configs, run_jobs):
    a, _b = configs
    flow = api.post(flows_url(a), json={"name": "Quiet", "trigger": {"type": "alert.created"}, "steps": []}).get_json()
    ids = [api.post(flows_url(a, flow["id"], "test")).get_json()["id"] for _ in range(3)]
    run_jobs()
    first = api.get(flows_url(a, flow["id"], "runs") + "?limit=2").get_json()
    assert [r["id"] for r in first["items"]] == ids[:0:-1] and first["next"]
    second = api.get(flows_url(a, flow["id"], "runs") + f"?limit=2&cursor={first['next']}").get_json()
    assert [r["id"] for r in second["items"]] == ids[:1] and second["next"] is None
    assert all(r["status"] == "succeeded" and r["steps"] == [] for r in first["items"] + second["items"])
