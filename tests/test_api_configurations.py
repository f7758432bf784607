"""/api/v1/configurations: create, read, change, disable, regenerate the key, rotate the secret."""
import pytest

from tests.support import send_alert
from tests.test_inbound import assert_error


def create(api, **fields):
    body = {"template": "webhook", "name": "Monitoring"}
    body.update(fields)
    return api.post("/api/v1/configurations", json=body)


def test_it_needs_a_bearer_token(client):
    response = client.get("/api/v1/configurations")
    assert_error(response, 401, "Unauthorized", "Bearer")
    response = client.get("/api/v1/configurations", headers={"Authorization": "Bearer nope"})
    assert_error(response, 401, "Unauthorized", "not valid")


def test_it_creates_a_configuration_with_its_integration_url(api):
    response = create(api, description="Prod alerts", senderName="Prod Monitoring", priority="HIGH",
                      responseOptions=[{"text": "Resolve", "action": "END", "description": "Close it"}],
                      updates={"status": {"enabled": True, "url": "http://127.0.0.1:9/status"},
                               "delivery": {"enabled": False, "url": None}},
                      includeSubjectAndMessage=True)
    assert response.status_code == 201
    body = response.get_json()
    assert body["integrationUrl"] == (f"http://klaxon.test/api/integration/1/functions/{body['uuid']}"
                                      f"/triggers?apiKey={body['apiKey']}")
    assert body["signingSecret"].startswith("whsec_")
    assert body["senderName"] == "Prod Monitoring" and body["priority"] == "HIGH"
    assert body["updates"]["status"]["enabled"] is True
    assert body["updates"]["status"]["url"] == "http://127.0.0.1:9/status"
    assert body["updates"]["response"] == {"enabled": False, "url": None, "disabledAt": None,
                                           "disabledReason": None, "lastResult": None}
    assert body["samplePayload"]["responseOptions"][0]["text"] == "Resolve"
    assert body["rateLimitPerMinute"] == 600 and body["dedupWindowMinutes"] == 1440
    assert api.get(f"/api/v1/configurations/{body['uuid']}").get_json()["name"] == "Monitoring"


def test_the_sender_name_defaults_to_the_name(api):
    assert create(api).get_json()["senderName"] == "Monitoring"


@pytest.mark.parametrize("fields, field", [
    ({"name": ""}, "name"),
    ({"template": "smoke-signal"}, "template"),
    ({"priority": "URGENT"}, "priority"),
    ({"recipients": [{"id": "ghost", "recipientType": "PERSON"}]}, "recipients[0].id"),
    ({"responseOptions": [{"text": "Go"}, {"text": "go"}]}, "responseOptions[1].text"),
    ({"updates": {"status": {"enabled": True}}}, "updates.status.url"),
    ({"updates": {"status": {"enabled": True, "url": "ftp://example.com/x"}}}, "updates.status.url"),
    ({"updates": {"status": {"enabled": True, "url": "http://10.0.0.1/hook"}}}, "updates.status.url"),
    ({"updates": {"status": {"enabled": True, "url": "http://169.254.169.254/latest"}}}, "updates.status.url"),
    ({"updates": {"sms": {}}}, "updates.sms"),
    ({"rateLimitPerMinute": -1}, "rateLimitPerMinute"),
    ({"enabled": "yes"}, "enabled"),
])
def test_it_rejects_a_bad_field_and_creates_nothing(api, fields, field):
    response = create(api, **fields)
    assert response.status_code == 400
    body = response.get_json()
    assert body["field"] == field and field in body["message"]
    assert api.get("/api/v1/configurations").get_json()["items"] == []


def test_it_changes_only_the_fields_sent(api):
    uuid = create(api, description="before").get_json()["uuid"]
    response = api.patch(f"/api/v1/configurations/{uuid}", json={"name": "Renamed", "enabled": False})
    body = response.get_json()
    assert body["name"] == "Renamed" and body["enabled"] is False and body["description"] == "before"
    assert api.patch(f"/api/v1/configurations/{uuid}", json={"template": "grafana"}).status_code == 400


def test_a_new_key_retires_the_old_one(api, client):
    cfg = create(api).get_json()
    fresh = api.post(f"/api/v1/configurations/{cfg['uuid']}/regenerate-key").get_json()
    assert fresh["apiKey"] != cfg["apiKey"]
    assert send_alert(client, cfg, {}).status_code == 401
    assert send_alert(client, {**cfg, "apiKey": fresh["apiKey"]}, {}).status_code == 202


def test_rotating_the_secret_keeps_the_old_one_signing_for_a_while(api):
    cfg = create(api).get_json()
    rotated = api.post(f"/api/v1/configurations/{cfg['uuid']}/rotate-secret").get_json()
    assert rotated["signingSecret"] != cfg["signingSecret"]
    assert rotated["signingSecrets"] == [rotated["signingSecret"], cfg["signingSecret"]]


def test_it_lists_configurations_in_pages(api):
    for n in range(3):
        create(api, name=f"C{n}")
    first = api.get("/api/v1/configurations?limit=2").get_json()
    assert [c["name"] for c in first["items"]] == ["C2", "C1"] and first["next"]
    second = api.get(f"/api/v1/configurations?limit=2&cursor={first['next']}").get_json()
    assert [c["name"] for c in second["items"]] == ["C0"] and second["next"] is None


def test_it_deletes_a_configuration(api):
    uuid = create(api).get_json()["uuid"]
    assert api.delete(f"/api/v1/configurations/{uuid}").status_code == 204
    assert_error(api.get(f"/api/v1/configurations/{uuid}"), 404, "Not Found", uuid)


def test_the_openapi_document_describes_every_route(app, client):
    spec = client.get("/api/v1/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/") and rule.endpoint != "api.openapi":
            path = rule.rule.replace("<", "{").replace(">", "}")
            path = __import__("re").sub(r"\{[^:{}]+:", "{", path)
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert method.lower() in spec["paths"][path], (path, method)
    assert "/api/integration/1/functions/{config_uuid}/triggers" in spec["paths"]
