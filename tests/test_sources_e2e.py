"""End to end through the integration URL: each source template's recorded payloads open and end
alerts, the status update webhooks reach a real receiver, and bad payloads get the source's own 400."""
import pytest
from standardwebhooks import Webhook

from extensions import db
from models import Alert, TimelineEntry, WebhookMessage
from runtime.queue import queue_depths
from tests import support
from tests.sources import CUSTOM_MAPPING, CUSTOM_PAYLOAD, recorded
from tests.support import integration_path, send_alert, updates_to


def make_config(api, receiver, template, **extra):
    """A ``template`` configuration whose status updates go to ``receiver`` at /status."""
    return support.make_config(api, template=template, name=f"{template} source", updates=updates_to(receiver),
                               **extra)


def accepted(response):
    assert response.status_code == 202, response.get_json()
    return response.get_json()


def alert_json(api, number):
    response = api.get(f"/api/v1/alerts/{number}")
    assert response.status_code == 200
    return response.get_json()


def config_alerts(api, config):
    return api.get(f"/api/v1/alerts?configuration={config['uuid']}").get_json()["items"]


def status_updates(receiver, config, count):
    """(eventIdentifier, status) of the first ``count`` status updates, each signature checked."""
    hook = Webhook(config["signingSecret"])
    requests = receiver.wait_for(count, path="/status")
    return [(body["eventIdentifier"], body["status"])
            for body in (hook.verify(r["body"], r["headers"]) for r in requests)]


def ledger():
    """What a request could have left behind: alert rows, timeline rows, outbox rows, queued jobs."""
    db.session.expire_all()
    return (db.session.query(Alert).count(), db.session.query(TimelineEntry).count(),
            db.session.query(WebhookMessage).count(), sum(queue_depths().values()))


@pytest.mark.parametrize("source", ["alertmanager", "grafana"])
def test_a_firing_then_resolved_pair_creates_then_ends_the_alert(api, client, receiver, run_jobs, source):
    config = make_config(api, receiver, source)
    firing = accepted(send_alert(client, config, recorded(f"{source}_firing.json")))
    assert set(firing) == {"requestId", "alerts"} and len(firing["alerts"]) == 2
    first, second = firing["alerts"]
    assert first["status"] == second["status"] == "ACTIVE"
    assert first["requestId"] == second["requestId"] == firing["requestId"]
    run_jobs()
    assert status_updates(receiver, config, 2) == [(first["eventIdentifier"], "active"),
                                                   (second["eventIdentifier"], "active")]

    resolved = accepted(send_alert(client, config, recorded(f"{source}_resolved.json")))
    assert resolved["action"] == "resolved" and resolved["alertId"] == first["alertId"]
    assert resolved["status"] == "TERMINATED_EXTERNAL"
    run_jobs()
    updates = status_updates(receiver, config, 3)
    assert [u for u in updates if u[0] == first["eventIdentifier"]] == [
        (first["eventIdentifier"], "active"), (first["eventIdentifier"], "terminated_external")]
    assert len(receiver.requests) == 3
    assert alert_json(api, first["eventIdentifier"])["status"] == "TERMINATED_EXTERNAL"
    assert alert_json(api, second["eventIdentifier"])["status"] == "ACTIVE"


def test_an_alertmanager_alert_keeps_its_labels_and_annotations(api, client, receiver):
    config = make_config(api, receiver, "alertmanager")
    number = accepted(send_alert(client, config, recorded("alertmanager_firing.json")))["alerts"][0]["eventIdentifier"]
    alert = alert_json(api, number)
    assert alert["subject"] == "BlackBox Probe Failure: https://server.example.org"
    assert alert["message"].startswith("Instance https://server.example.org has been down")
    assert alert["priority"] == "HIGH" and alert["dedupKey"] == "alertmanager:1a30ba71cca2921f"
    assert list(alert["properties"])[:5] == ["alertname", "instance", "job", "monitor", "severity"]


def test_a_repeated_firing_notification_counts_a_duplicate(api, client, receiver):
    config = make_config(api, receiver, "alertmanager")
    accepted(send_alert(client, config, recorded("alertmanager_firing.json")))
    again = accepted(send_alert(client, config, recorded("alertmanager_firing.json")))
    assert [a["deduplicated"] for a in again["alerts"]] == [True, True]
    assert [a["duplicateCount"] for a in config_alerts(api, config)] == [1, 1]


def test_a_resolved_alert_nothing_opened_changes_nothing(api, client, receiver):
    config = make_config(api, receiver, "alertmanager")
    before = ledger()
    body = accepted(send_alert(client, config, recorded("alertmanager_resolved.json")))
    assert body["action"] == "ignored" and "alertId" not in body
    assert ledger() == before


@pytest.mark.parametrize("source, body, field", [
    ("alertmanager", {"version": "4", "alerts": "none"}, "alerts"),
    ("alertmanager", {"alerts": [{"status": "pending", "labels": {"alertname": "X"}}]}, "alerts[0].status"),
    ("alertmanager", {"alerts": [{"status": "firing", "labels": ["alertname"]}]}, "alerts[0].labels"),
    ("grafana", {"alerts": [{"status": "firing", "labels": {}, "fingerprint": 7}]}, "alerts[0].fingerprint"),
    ("grafana", ["firing"], "body"),
])
def test_a_malformed_source_payload_gets_klaxons_400_naming_the_field(api, client, receiver, source, body, field):
    config = make_config(api, receiver, source)
    before = ledger()
    response = send_alert(client, config, body)
    assert response.status_code == 400
    error = response.get_json()
    assert set(error) == {"code", "reason", "message"} and (error["code"], error["reason"]) == (400, "Bad Request")
    assert error["message"].startswith(field + " ")
    assert ledger() == before


def test_a_custom_mapping_turns_any_json_into_an_alert_and_ends_it(api, client, receiver, run_jobs):
    config = make_config(api, receiver, "custom", customMapping=CUSTOM_MAPPING)
    created = accepted(send_alert(client, config, CUSTOM_PAYLOAD))
    assert set(created) == {"requestId", "alertId", "eventIdentifier", "status", "warnings"}  # no recipients
    alert = alert_json(api, created["eventIdentifier"])
    assert (alert["subject"], alert["message"], alert["priority"]) == ("Disk full on db-1", "Free space 3%", "HIGH")
    assert alert["properties"] == {"Host": "db-1", "Check": "disk"} and alert["dedupKey"] == "db-1/disk"

    ended = accepted(send_alert(client, config, {**CUSTOM_PAYLOAD, "state": "ok"}))
    assert (ended["action"], ended["alertId"]) == ("resolved", created["alertId"])
    run_jobs()
    number = created["eventIdentifier"]
    assert status_updates(receiver, config, 2) == [(number, "active"), (number, "terminated_external")]


def test_a_custom_mapping_that_renders_a_bad_field_is_refused_naming_it(api, client, receiver):
    config = make_config(api, receiver, "custom", customMapping={**CUSTOM_MAPPING, "priority": "{{ payload.level }}"})
    before = ledger()
    response = send_alert(client, config, {**CUSTOM_PAYLOAD, "level": "urgent"})
    assert response.status_code == 400
    assert response.get_json()["message"] == ("priority must be one of HIGH, MEDIUM, LOW "
                                              "(as rendered by the custom mapping)")
    assert ledger() == before


def pagerduty_event(config, name, **fields):
    """A recorded PagerDuty event addressed, as PagerDuty senders do, by ``routing_key`` in the body."""
    return {**recorded(name), "routing_key": config["apiKey"], **fields}


def timeline_types(api, number):
    return [entry["type"] for entry in alert_json(api, number)["timeline"]]


@pytest.fixture
def escalating_group(api, receiver):
    """Database Team, bsmith then jdoe five minutes apart, each with a webhook device on ``receiver``."""
    for username in ("bsmith", "jdoe"):
        response = api.post("/api/v1/users", json={"username": username, "devices": [
            {"name": "Pager", "kind": "webhook", "target": f"{receiver.url}/{username}"}]})
        assert response.status_code == 201, response.get_json()
    response = api.post("/api/v1/groups", json={"name": "Database Team", "members": ["bsmith", "jdoe"],
                                                 "mode": "escalate-in-order", "escalationDelayMinutes": 5})
    assert response.status_code == 201, response.get_json()
    return [{"id": "Database Team", "recipientType": "GROUP"}]


def test_a_pagerduty_trigger_acknowledge_resolve_sequence_is_one_alerts_lifecycle(
        api, client, receiver, run_jobs, escalating_group):
    from datetime import timedelta

    from alerting.notifications import escalation
    from models import AlertTarget, utcnow

    config = make_config(api, receiver, "pagerduty", recipients=escalating_group)
    success = {"status": "success", "message": "Event processed", "dedup_key": "samplekeyhere"}
    assert accepted(send_alert(client, config, pagerduty_event(config, "pagerduty_trigger.json"), key=False)) == success
    (alert,) = config_alerts(api, config)
    number = alert["eventIdentifier"]
    assert (alert["status"], alert["priority"], alert["dedupKey"]) == ("ACTIVE", "HIGH", "samplekeyhere")
    run_jobs()
    receiver.wait_for(1, path="/bsmith")

    acknowledged = send_alert(client, config, pagerduty_event(config, "pagerduty_acknowledge.json"), key=False)
    assert accepted(acknowledged) == success
    assert alert_json(api, number)["status"] == "ACTIVE"
    assert timeline_types(api, number)[-1] == "EVENT_ANNOTATED"
    assert alert_json(api, number)["timeline"][-1]["detail"]["comment"] == "Acknowledged by the source"
    db.session.expire_all()
    assert {t.state for t in db.session.query(AlertTarget).filter_by(alert_id=number)} == {"stopped"}
    assert escalation.sweep(utcnow() + timedelta(minutes=10)) == 0  # jdoe's turn never comes

    assert accepted(send_alert(client, config, pagerduty_event(config, "pagerduty_resolve.json"), key=False)) == success
    assert alert_json(api, number)["status"] == "TERMINATED_EXTERNAL"
    assert timeline_types(api, number)[-1] == "EVENT_TERMINATED"
    assert [a["eventIdentifier"] for a in config_alerts(api, config)] == [number]
    run_jobs()
    assert status_updates(receiver, config, 2) == [(number, "active"), (number, "terminated_external")]
    assert not any(r["path"].startswith("/jdoe") for r in receiver.requests)


def test_a_pagerduty_trigger_without_a_dedup_key_gets_one_to_resolve_it_by(api, client, receiver):
    config = make_config(api, receiver, "pagerduty")
    event = pagerduty_event(config, "pagerduty_trigger.json")
    del event["dedup_key"]
    key = accepted(send_alert(client, config, event, key=False))["dedup_key"]
    assert isinstance(key, str) and len(key) == 32
    (alert,) = config_alerts(api, config)
    assert alert["dedupKey"] == key
    accepted(send_alert(client, config, pagerduty_event(config, "pagerduty_resolve.json", dedup_key=key), key=False))
    assert alert_json(api, alert["eventIdentifier"])["status"] == "TERMINATED_EXTERNAL"


@pytest.mark.parametrize("name", ["pagerduty_acknowledge.json", "pagerduty_resolve.json"])
def test_acknowledging_or_resolving_an_unknown_dedup_key_is_harmless(api, client, receiver, name):
    config = make_config(api, receiver, "pagerduty")
    accepted(send_alert(client, config, pagerduty_event(config, "pagerduty_trigger.json"), key=False))
    before = ledger()
    body = accepted(send_alert(client, config, pagerduty_event(config, name, dedup_key="never-sent"), key=False))
    assert body == {"status": "success", "message": "Event processed", "dedup_key": "never-sent"}
    assert ledger() == before
    assert [a["status"] for a in config_alerts(api, config)] == ["ACTIVE"]


def test_resolving_twice_changes_nothing_the_second_time(api, client, receiver):
    config = make_config(api, receiver, "pagerduty")
    accepted(send_alert(client, config, pagerduty_event(config, "pagerduty_trigger.json"), key=False))
    accepted(send_alert(client, config, pagerduty_event(config, "pagerduty_resolve.json"), key=False))
    before = ledger()
    accepted(send_alert(client, config, pagerduty_event(config, "pagerduty_resolve.json"), key=False))
    accepted(send_alert(client, config, pagerduty_event(config, "pagerduty_acknowledge.json"), key=False))
    assert ledger() == before


@pytest.mark.parametrize("fields, error", [
    ({"event_action": "snooze"}, "event_action must be one of trigger, acknowledge, resolve"),
    ({"event_action": "resolve", "dedup_key": None}, "dedup_key is required to resolve an alert"),
    ({"payload": {"summary": "Disk full", "source": "db-1", "severity": "fatal"}},
     "payload.severity must be one of critical, error, warning, info"),
])
def test_a_malformed_pagerduty_event_gets_pagerdutys_400(api, client, receiver, fields, error):
    config = make_config(api, receiver, "pagerduty")
    before = ledger()
    response = send_alert(client, config, pagerduty_event(config, "pagerduty_trigger.json", **fields), key=False)
    assert response.status_code == 400
    assert response.get_json() == {"status": "invalid event", "message": "Event object is invalid",
                                   "errors": [error]}
    assert ledger() == before


def test_malformed_json_to_a_pagerduty_configuration_gets_pagerdutys_400(api, client, receiver):
    config = make_config(api, receiver, "pagerduty")
    response = client.post(integration_path(config, key=False), data='{"event_action": ',
                           content_type="application/json")
    assert response.status_code == 400
    body = response.get_json()
    assert (body["status"], body["message"]) == ("invalid event", "Event object is invalid")
    assert body["errors"][0].startswith("body: malformed JSON")


def test_a_wrong_routing_key_is_refused(api, client, receiver):
    config = make_config(api, receiver, "pagerduty")
    before = ledger()
    response = send_alert(client, config, pagerduty_event(config, "pagerduty_trigger.json", routing_key="x" * 32),
                    key=False)
    assert response.status_code == 401
    assert ledger() == before
