"""SPEC §11: the xMatters REST subset under /api/xm/1/, driven as a migration script drives xMatters
(HTTP Basic with the token as the password; list, terminate, annotate, read user deliveries)."""
import base64

import pytest

from tests.support import Receiver, add_user, drive, hook, make_config, trigger

OPTIONS = [{"text": "Acknowledge", "action": "STOP_NOTIFYING_USER"}, {"text": "Resolve", "action": "END"}]
TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$"


@pytest.fixture
def xm(client, api_token):
    """A client as a migrated script uses it: HTTP Basic, any user name, the token as password."""
    auth = "Basic " + base64.b64encode(f"migrator:{api_token}".encode()).decode()

    class Xm:
        def __getattr__(self, method):
            def call(path, **kwargs):
                return getattr(client, method)(f"/api/xm/1{path}", headers={"Authorization": auth}, **kwargs)
            return call
    return Xm()


def test_a_migration_script_lists_terminates_annotates_and_reads_deliveries(api, client, run_jobs, xm):
    import re

    with Receiver() as devices:
        add_user(api, "bsmith", [hook(devices, "Work hook", "bob")])
        add_user(api, "jdoe", [hook(devices, "Pager", "jane")])
        config = make_config(api, name="Monitoring", responseOptions=OPTIONS,
                             recipients=[{"id": "bsmith", "recipientType": "PERSON"},
                                         {"id": "jdoe", "recipientType": "PERSON"}])
        disk = trigger(client, config, {"properties": {"Host": "db-1"}, "subject": "Disk full", "priority": "HIGH"})
        trigger(client, config, {"properties": {"Host": "web-1"}, "subject": "Slow", "priority": "LOW"})
        drive(run_jobs, lambda: len(devices.requests) >= 4)
    api.post(f"/api/v1/alerts/{disk['alertId']}/responses",
             json={"recipient": "bsmith", "response": "Acknowledge", "comment": "on it"})

    # 1. list the open HIGH events whose Host is db-1
    listed = xm.get("/events?status=ACTIVE&priority=HIGH&propertyName=Host&propertyValue=db-1")
    assert listed.status_code == 200
    page = listed.get_json()
    assert (page["count"], page["total"]) == (1, 1) and "next" not in page["links"]
    assert page["links"]["self"].startswith("/api/xm/1/events?") and "offset=0" in page["links"]["self"]
    (event,) = page["data"]
    assert event["id"] == disk["alertId"] and event["eventId"] == str(disk["eventIdentifier"])
    assert (event["status"], event["priority"], event["terminated"]) == ("ACTIVE", "HIGH", None)
    assert re.match(TIMESTAMP, event["created"]) and event["properties"] == {"Host": "db-1"}
    assert event["submitter"]["targetName"] == "integration:Monitoring"
    assert event["links"]["self"] == f"/api/xm/1/events/{disk['alertId']}"

    # 2. terminate it by eventId, as xMatters scripts do
    ended = xm.post("/events", json={"id": event["eventId"], "status": "TERMINATED"})
    assert ended.status_code == 202, ended.get_json()
    assert ended.get_json()["status"] == "TERMINATED_EXTERNAL" and re.match(TIMESTAMP, ended.get_json()["terminated"])
    timeline = api.get(f"/api/v1/alerts/{disk['alertId']}").get_json()["timeline"]
    assert timeline[-1]["type"] == "EVENT_TERMINATED" and timeline[-1]["actor"] == "token:tests"

    # 3. annotate it and read the annotations back (the response's comment is one too)
    added = xm.post(f"/events/{disk['alertId']}/annotations", json={"comment": "migrated from xMatters"})
    assert added.status_code == 201
    note = added.get_json()
    assert note["comment"] == "migrated from xMatters" and note["author"]["targetName"] == "token:tests"
    assert note["event"]["id"] == disk["alertId"] and re.match(TIMESTAMP, note["created"])
    notes = xm.get(f"/events/{disk['eventIdentifier']}/annotations").get_json()
    assert notes["total"] == 2 and [n["comment"] for n in notes["data"]] == ["on it", "migrated from xMatters"]
    assert notes["data"][1]["id"] == note["id"]
    embedded = xm.get(f"/events/{disk['alertId']}?embed=properties,annotations").get_json()
    assert embedded["annotations"]["total"] == 2 and embedded["properties"] == {"Host": "db-1"}

    # 4. who got it: bsmith responded, jdoe was delivered to
    deliveries = xm.get(f"/events/{disk['alertId']}/user-deliveries").get_json()
    assert deliveries["total"] == 2
    by_person = {d["person"]["targetName"]: d for d in deliveries["data"]}
    assert by_person["bsmith"]["deliveryStatus"] == "RESPONDED"
    assert by_person["bsmith"]["response"]["text"] == "Acknowledge"
    assert by_person["jdoe"]["deliveryStatus"] == "DELIVERED" and "response" not in by_person["jdoe"]
    assert by_person["jdoe"]["event"]["eventId"] == str(disk["eventIdentifier"])


def test_events_page_with_offset_and_limit_and_filter_by_time_and_request(api, client, xm):
    config = make_config(api)
    made = [trigger(client, config, {"subject": f"n{i}"}) for i in range(3)]
    first = xm.get("/events?limit=2").get_json()
    assert (first["count"], first["total"]) == (2, 3)
    assert [e["name"] for e in first["data"]] == ["n2", "n1"]
    second = xm.get(first["links"]["next"].removeprefix("/api/xm/1")).get_json()
    assert [e["name"] for e in second["data"]] == ["n0"] and "next" not in second["links"]
    assert xm.get(f"/events?requestId={made[1]['requestId']}").get_json()["data"][0]["name"] == "n1"
    assert xm.get("/events?from=2000-01-01T00:00:00Z&to=2001-01-01T00:00:00Z").get_json()["total"] == 0
    assert xm.get("/events?from=2000-01-01T00:00:00Z").get_json()["total"] == 3


def test_suspend_and_resume_and_a_bearer_token_works_too(api, client, api_token):
    alert = trigger(client, make_config(api))
    bearer = {"Authorization": f"Bearer {api_token}"}
    for status in ("SUSPENDED", "ACTIVE"):
        changed = client.post("/api/xm/1/events", json={"id": alert["alertId"], "status": status}, headers=bearer)
        assert changed.status_code == 202 and changed.get_json()["status"] == status


@pytest.mark.parametrize(("call", "code", "reason"), [
    (lambda c, h: c.get("/api/xm/1/events", headers={}), 401, "Unauthorized"),
    (lambda c, h: c.get("/api/xm/1/events", headers={"Authorization": "Basic " + base64.b64encode(
        b"u:wrong").decode()}), 401, "Unauthorized"),
    (lambda c, h: c.get("/api/xm/1/events/999999", headers=h), 404, "Not Found"),
    (lambda c, h: c.get("/api/xm/1/events?status=OPEN", headers=h), 400, "Bad Request"),
    (lambda c, h: c.get("/api/xm/1/events?limit=x", headers=h), 400, "Bad Request"),
    (lambda c, h: c.post("/api/xm/1/events", json={"status": "TERMINATED"}, headers=h), 400, "Bad Request"),
    (lambda c, h: c.post("/api/xm/1/events", json={"id": "1", "status": "DONE"}, headers=h), 400, "Bad Request"),
    (lambda c, h: c.delete("/api/xm/1/events", headers=h), 405, "Method Not Allowed"),
    (lambda c, h: c.get("/api/xm/1/nothing-here", headers=h), 404, "Not Found"),
])
def test_errors_are_json_in_the_shape_of_xmatters_and_spec_2(client, api_token, call, code, reason):
    response = call(client, {"Authorization": f"Bearer {api_token}"})
    assert response.status_code == code and response.is_json, response.get_data(as_text=True)[:200]
    body = response.get_json()
    assert (body["code"], body["reason"]) == (code, reason) and body["message"]


def test_terminating_an_ended_event_is_a_conflict(api, client, xm):
    alert = trigger(client, make_config(api))
    assert xm.post("/events", json={"id": alert["alertId"], "status": "TERMINATED"}).status_code == 202
    again = xm.post("/events", json={"id": alert["alertId"], "status": "SUSPENDED"})
    assert again.status_code == 409 and again.get_json()["reason"] == "Conflict"


def test_the_openapi_document_lists_the_xm_routes(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert set(paths["/api/xm/1/events"]) == {"get", "post"}
    for path in ("/api/xm/1/events/{event_id}", "/api/xm/1/events/{event_id}/user-deliveries"):
        assert "get" in paths[path]
    assert set(paths["/api/xm/1/events/{event_id}/annotations"]) == {"get", "post"}


def test_an_id_that_is_neither_a_number_nor_a_uuid_is_a_404_not_a_500(api):
    """schemathesis found it on PostgreSQL, which refuses to compare a string holding a NUL byte."""
    changed = api.post("/api/xm/1/events", json={"id": "a\x00b", "status": "TERMINATED"})
    assert changed.status_code == 404, changed.get_data(as_text=True)
    assert api.get("/api/xm/1/events/a%00b").status_code == 404
