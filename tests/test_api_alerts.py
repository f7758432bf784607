"""/api/v1/alerts: list with filters and pages, detail with timeline, status changes, annotations."""
import pytest

from tests.test_inbound import assert_error, post


@pytest.fixture
def configs(api):
    made = []
    for name in ("A", "B"):
        made.append(api.post("/api/v1/configurations", json={"name": name}).get_json())
    return made


def test_it_lists_alerts_newest_first_with_filters_and_pages(api, client, configs):
    a, b = configs
    ids = [post(client, a, {"subject": f"a{n}", "priority": "LOW"}).get_json()["alertId"] for n in range(3)]
    post(client, b, {"subject": "b0", "priority": "HIGH"})
    api.post(f"/api/v1/alerts/{ids[0]}/status", json={"status": "SUSPENDED"})
    everything = api.get("/api/v1/alerts").get_json()
    assert [x["subject"] for x in everything["items"]] == ["b0", "a2", "a1", "a0"]
    item = everything["items"][0]
    for key in ("alertId", "eventIdentifier", "status", "priority", "subject", "message", "properties",
                "dedupKey", "duplicateCount", "configuration", "createdAt"):
        assert key in item
    only_a = api.get(f"/api/v1/alerts?configuration={a['uuid']}").get_json()["items"]
    assert {x["configuration"] for x in only_a} == {a["uuid"]}
    assert [x["subject"] for x in api.get("/api/v1/alerts?status=SUSPENDED").get_json()["items"]] == ["a0"]
    assert [x["subject"] for x in api.get("/api/v1/alerts?priority=HIGH").get_json()["items"]] == ["b0"]
    page1 = api.get("/api/v1/alerts?limit=3").get_json()
    page2 = api.get(f"/api/v1/alerts?limit=3&cursor={page1['next']}").get_json()
    assert [x["subject"] for x in page2["items"]] == ["a0"] and page2["next"] is None


@pytest.mark.parametrize("query, field", [("status=LOST", "status"), ("priority=P1", "priority"),
                                          ("configuration=nope", "configuration"), ("limit=many", "limit"),
                                          ("cursor=abc", "cursor")])
def test_it_rejects_a_bad_filter(api, query, field):
    response = api.get(f"/api/v1/alerts?{query}")
    assert response.status_code == 400 and response.get_json()["field"] == field


def test_it_shows_one_alert_with_its_timeline(api, client, configs):
    created = post(client, configs[0], {"subject": "x"}).get_json()
    by_uuid = api.get(f"/api/v1/alerts/{created['alertId']}").get_json()
    by_number = api.get(f"/api/v1/alerts/{created['eventIdentifier']}").get_json()
    assert by_uuid == by_number
    assert by_uuid["timeline"][0]["type"] == "EVENT_CREATED"
    assert by_uuid["notifications"] == [] and by_uuid["responses"] == []
    assert_error(api.get("/api/v1/alerts/999999"), 404, "Not Found", "999999")


def test_it_suspends_resumes_and_terminates_with_timeline_entries(api, client, configs):
    alert_id = post(client, configs[0]).get_json()["alertId"]
    for status in ("SUSPENDED", "ACTIVE", "TERMINATED_EXTERNAL"):
        response = api.post(f"/api/v1/alerts/{alert_id}/status", json={"status": status})
        assert response.status_code == 200 and response.get_json()["status"] == status
    types = [t["type"] for t in api.get(f"/api/v1/alerts/{alert_id}").get_json()["timeline"]]
    assert types == ["EVENT_CREATED", "EVENT_SUSPENDED", "EVENT_RESUMED", "EVENT_TERMINATED"]
    again = api.post(f"/api/v1/alerts/{alert_id}/status", json={"status": "ACTIVE"})
    assert_error(again, 409, "Conflict", "TERMINATED_EXTERNAL")


@pytest.mark.parametrize("payload", [{"status": "TERMINATED"}, {"status": "DONE"}, {}])
def test_it_refuses_a_status_that_cannot_be_set(api, client, configs, payload):
    alert_id = post(client, configs[0]).get_json()["alertId"]
    response = api.post(f"/api/v1/alerts/{alert_id}/status", json=payload)
    assert response.status_code == 400 and response.get_json()["field"] == "status"


def test_it_annotates_an_alert(api, client, configs):
    alert_id = post(client, configs[0]).get_json()["alertId"]
    response = api.post(f"/api/v1/alerts/{alert_id}/annotations", json={"comment": "looking into it"})
    assert response.status_code == 201
    entry = response.get_json()["timeline"][-1]
    assert entry["type"] == "EVENT_ANNOTATED" and entry["detail"]["comment"] == "looking into it"
    assert entry["actor"] == "token:tests"
    assert api.post(f"/api/v1/alerts/{alert_id}/annotations", json={"comment": ""}).status_code == 400
