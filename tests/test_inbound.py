"""The integration URL: keys, the trigger body, every status code, and that a rejected request changes nothing."""
import base64
import json

import pytest

from extensions import db
from models import Alert, TimelineEntry, WebhookMessage
from runtime.queue import queue_depths
from tests.support import clear_of_a_minute_edge, integration_path


@pytest.fixture
def config(api):
    response = api.post("/api/v1/configurations", json={
        "template": "webhook", "name": "Monitoring", "senderName": "Prod Monitoring", "priority": "HIGH",
        "responseOptions": [{"text": "Acknowledge", "action": "STOP_NOTIFYING_USER"}]})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def post(client, config, body=None, key=True, **kwargs):
    kwargs.setdefault("json", body if body is not None else {"properties": {"Summary": "Disk full"}})
    return client.post(integration_path(config, key), **kwargs)


def ledger():
    """What a request could have left behind: alert rows, timeline rows, outbox rows, queued jobs."""
    return (db.session.query(Alert).count(), db.session.query(TimelineEntry).count(),
            db.session.query(WebhookMessage).count(), sum(queue_depths().values()))


def assert_error(response, code, reason, words):
    assert response.status_code == code
    body = response.get_json()
    assert set(body) == {"code", "reason", "message"}
    assert body["code"] == code and body["reason"] == reason
    assert words in body["message"]


def test_it_accepts_an_alert_with_the_key_in_the_query(client, config):
    response = post(client, config, {"properties": {"Summary": "Disk full on db-1", "Host": "db-1"},
                                     "message": "Free space fell below 5%"})
    assert response.status_code == 202
    body = response.get_json()
    assert set(body) == {"requestId", "alertId", "eventIdentifier", "status", "warnings"}
    assert body["warnings"] == ["This alert has no recipients (none in the trigger, none on the configuration), "
                                "so no one will be notified."]
    assert body["status"] == "ACTIVE" and isinstance(body["eventIdentifier"], int)
    alert = db.session.query(Alert).filter_by(uuid=body["alertId"]).one()
    assert alert.id == body["eventIdentifier"]
    assert alert.subject == "Disk full on db-1" and alert.priority == "HIGH"
    assert list(alert.properties) == ["Summary", "Host"]
    assert alert.response_options == [{"text": "Acknowledge", "action": "STOP_NOTIFYING_USER",
                                       "id": config["responseOptions"][0]["id"], "number": 1}]
    types = [t.type for t in db.session.query(TimelineEntry).filter_by(alert_id=alert.id)]
    assert types == ["EVENT_CREATED"]
    assert queue_depths()["notify"] == 1


def test_it_accepts_the_key_in_a_header(client, config):
    response = post(client, config, key=False, headers={"X-Api-Key": config["apiKey"]})
    assert response.status_code == 202


def test_it_accepts_the_key_as_the_basic_auth_password(client, config):
    token = base64.b64encode(f"anyone:{config['apiKey']}".encode()).decode()
    response = post(client, config, key=False, headers={"Authorization": f"Basic {token}"})
    assert response.status_code == 202


@pytest.mark.parametrize("body, subject", [
    ({"properties": {"Subject": "From Subject"}}, "From Subject"),
    ({"properties": {"Summary": "From Summary", "Subject": "not this"}}, "From Summary"),
    ({"subject": "Given", "properties": {"Summary": "not this"}}, "Given"),
    ({}, "Monitoring"),
])
def test_it_fills_the_subject_from_properties_then_the_configuration(client, config, body, subject):
    alert_id = post(client, config, body).get_json()["alertId"]
    assert db.session.query(Alert).filter_by(uuid=alert_id).one().subject == subject


def test_it_rejects_a_missing_key(client, config):
    before = ledger()
    assert_error(post(client, config, key=False), 401, "Unauthorized", "API key")
    assert ledger() == before


def test_it_rejects_a_wrong_key(client, config):
    before = ledger()
    response = client.post(integration_path(config, key=False) + "?apiKey=wrong", json={})
    assert_error(response, 401, "Unauthorized", "wrong")
    assert ledger() == before


@pytest.mark.parametrize("uuid", ["00000000-0000-4000-8000-000000000000", "not-a-uuid"])
def test_it_rejects_an_unknown_configuration(client, uuid):
    response = client.post(f"/api/integration/1/functions/{uuid}/triggers?apiKey=x", json={})
    assert_error(response, 404, "Not Found", "configuration")


def test_it_rejects_a_disabled_configuration(client, api, config):
    api.patch(f"/api/v1/configurations/{config['uuid']}", json={"enabled": False})
    before = ledger()
    assert_error(post(client, config), 409, "Conflict", "disabled")
    assert ledger() == before


@pytest.mark.parametrize("settings_env", [{"KLAXON_MAX_PAYLOAD_BYTES": "2048"}])
def test_it_rejects_a_body_over_the_limit(client, config, settings_env):
    before = ledger()
    response = post(client, config, {"message": "x" * 4000})
    assert_error(response, 413, "Payload Too Large", "KLAXON_MAX_PAYLOAD_BYTES")
    assert ledger() == before


def test_it_rejects_a_body_that_is_not_json(client, config):
    before = ledger()
    response = post(client, config, json=None, data="Summary=disk", content_type="text/plain")
    assert_error(response, 415, "Unsupported Media Type", "application/json")
    assert ledger() == before


@pytest.mark.parametrize("raw, field", [
    ('{"properties": ', "body"),
    ('[1, 2]', "body"),
    ('{"priority": "URGENT"}', "priority"),
    ('{"properties": "Host=db-1"}', "properties"),
    ('{"subject": 42}', "subject"),
    ('{"recipients": [{"id": "bsmith", "recipientType": 5}]}', "recipients[0].recipientType"),
    ('{"responseOptions": [{"text": "Go", "action": "EXPLODE"}]}', "responseOptions[0].action"),
    ('{"expirationInMinutes": "soon"}', "expirationInMinutes"),
    ('{"expirationInMinutes": true}', "expirationInMinutes"),
    ('{"dedupKey": 7}', "dedupKey"),
])
def test_it_rejects_a_bad_field_naming_it(client, config, raw, field):
    before = ledger()
    response = post(client, config, json=None, data=raw, content_type="application/json")
    assert_error(response, 400, "Bad Request", field)
    assert ledger() == before


def test_it_limits_the_rate_per_configuration_and_queues_nothing_over_it(client, api, config):
    api.patch(f"/api/v1/configurations/{config['uuid']}", json={"rateLimitPerMinute": 2})
    clear_of_a_minute_edge()
    assert post(client, config).status_code == 202
    assert post(client, config).status_code == 202
    before = ledger()
    response = post(client, config)
    assert_error(response, 429, "Too Many Requests", "2 alerts per minute")
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert ledger() == before


def test_a_rate_limit_of_zero_means_no_limit(client, api, config):
    api.patch(f"/api/v1/configurations/{config['uuid']}", json={"rateLimitPerMinute": 0})
    assert all(post(client, config).status_code == 202 for _ in range(5))


def test_it_deduplicates_an_active_alert_with_the_same_key(client, api, config):
    first = post(client, config, {"subject": "Disk", "dedupKey": "db-1/disk"}).get_json()
    second = post(client, config, {"subject": "Disk", "dedupKey": "db-1/disk"}).get_json()
    third = post(client, config, {"subject": "Disk", "dedupKey": "db-1/disk"}).get_json()
    assert second["deduplicated"] is True and third["deduplicated"] is True
    assert first["alertId"] == second["alertId"] == third["alertId"]
    assert first["eventIdentifier"] == third["eventIdentifier"]
    assert "deduplicated" not in first
    alert = db.session.query(Alert).filter_by(uuid=first["alertId"]).one()
    db.session.refresh(alert)
    assert alert.duplicate_count == 2
    assert db.session.query(Alert).count() == 1
    api.post(f"/api/v1/alerts/{first['alertId']}/status", json={"status": "TERMINATED_EXTERNAL"})
    fourth = post(client, config, {"subject": "Disk", "dedupKey": "db-1/disk"}).get_json()
    assert fourth["alertId"] != first["alertId"] and "deduplicated" not in fourth


def test_it_reports_unknown_recipients_and_keeps_the_alert(client, config):
    from models import User

    db.session.add(User(username="bsmith", name="Bob"))
    db.session.commit()
    response = post(client, config, {"recipients": [{"id": "bsmith", "recipientType": "PERSON"},
                                                    {"id": "ghost", "recipientType": "PERSON"},
                                                    {"id": "Nobody Team", "recipientType": "GROUP"}]})
    assert response.status_code == 202
    body = response.get_json()
    assert body["unresolvedRecipients"] == ["ghost", "Nobody Team"]
    alert = db.session.query(Alert).filter_by(uuid=body["alertId"]).one()
    assert [r["id"] for r in alert.recipients] == ["bsmith", "ghost", "Nobody Team"]


def test_it_sets_the_expiry_and_the_sweeper_terminates_expired_alerts(client, config):
    from datetime import timedelta

    from alerting.alerts.lifecycle import sweep_expired
    from models import utcnow

    body = post(client, config, {"expirationInMinutes": 5}).get_json()
    alert = db.session.query(Alert).filter_by(uuid=body["alertId"]).one()
    assert timedelta(minutes=4) < alert.expires_at - alert.created_at <= timedelta(minutes=5)
    assert sweep_expired(utcnow()) == 0
    assert sweep_expired(utcnow() + timedelta(minutes=6)) == 1
    db.session.refresh(alert)
    assert alert.status == "TERMINATED"
    types = [t.type for t in db.session.query(TimelineEntry).filter_by(alert_id=alert.id)]
    assert types[-1] == "EVENT_TERMINATED"


def test_it_counts_alerts_received_by_outcome(client, config):
    from prometheus_client import REGISTRY

    def count(outcome):
        return REGISTRY.get_sample_value("klaxon_alerts_received_total",
                                         {"configuration": config["name"], "outcome": outcome}) or 0
    before = {o: count(o) for o in ("created", "deduplicated", "rejected")}
    post(client, config, {"dedupKey": "k"})
    post(client, config, {"dedupKey": "k"})
    post(client, config, {"priority": "NOPE"})
    assert {o: count(o) - before[o] for o in before} == {"created": 1, "deduplicated": 1, "rejected": 1}


def test_the_alert_is_committed_before_the_reply(client, config, app):
    """Another connection sees the alert as soon as the 202 arrives."""
    from sqlalchemy import create_engine, text

    body = post(client, config).get_json()
    db.session.remove()  # the test client shares our session; a served request ends it at teardown
    engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    with engine.connect() as conn:
        found = conn.execute(text("SELECT id FROM alerts WHERE uuid = :u"), {"u": body["alertId"]}).scalar()
    engine.dispose()
    assert found == body["eventIdentifier"]


def test_it_sends_json_with_a_charset(client, config):
    response = post(client, config, json=None, data=json.dumps({"subject": "é"}),
                    content_type="application/json; charset=utf-8")
    assert response.status_code == 202
