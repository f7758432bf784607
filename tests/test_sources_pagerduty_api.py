"""POST /v2/enqueue, PagerDuty's own URL: senders written for PagerDuty change only the host, and the
routing_key picks the configuration without telling which keys exist."""
import json

import pytest

from tests.support import clear_of_a_minute_edge, send_alert
from tests.test_sources_e2e import (
    accepted,
    alert_json,
    config_alerts,
    ledger,
    make_config,
    pagerduty_event,
    status_updates,
)

INVALID = {"status": "invalid event", "message": "Event object is invalid"}
SUCCESS = {"status": "success", "message": "Event processed", "dedup_key": "samplekeyhere"}


def enqueue(client, body):
    return client.post("/v2/enqueue", data=json.dumps(body), content_type="application/json")


@pytest.fixture
def config(api, receiver):
    return make_config(api, receiver, "pagerduty")


def test_a_trigger_acknowledge_resolve_sequence_runs_one_alerts_lifecycle(api, client, receiver, run_jobs, config):
    assert accepted(enqueue(client, pagerduty_event(config, "pagerduty_trigger.json"))) == SUCCESS
    (alert,) = config_alerts(api, config)
    number = alert["eventIdentifier"]
    assert (alert["status"], alert["subject"]) == ("ACTIVE", "Example alert on host1.example.com")
    assert accepted(enqueue(client, pagerduty_event(config, "pagerduty_acknowledge.json"))) == SUCCESS
    assert alert_json(api, number)["timeline"][-1]["detail"]["comment"] == "Acknowledged by the source"
    assert alert_json(api, number)["status"] == "ACTIVE"
    assert accepted(enqueue(client, pagerduty_event(config, "pagerduty_resolve.json"))) == SUCCESS
    assert alert_json(api, number)["status"] == "TERMINATED_EXTERNAL"
    run_jobs()
    assert status_updates(receiver, config, 2) == [(number, "active"), (number, "terminated_external")]


def test_the_routing_key_picks_its_own_configuration(api, client, receiver, config):
    other = make_config(api, receiver, "pagerduty")
    accepted(enqueue(client, pagerduty_event(other, "pagerduty_trigger.json")))
    assert config_alerts(api, config) == [] and len(config_alerts(api, other)) == 1


def test_it_answers_as_the_integration_url_does_for_the_same_event(api, client, receiver, config):
    bad = pagerduty_event(config, "pagerduty_trigger.json", payload={"summary": "Disk full", "source": "db-1"})
    here, there = enqueue(client, bad), send_alert(client, config, bad, key=False)
    assert here.status_code == there.status_code == 400
    assert here.get_json() == there.get_json() == {
        **INVALID, "errors": ["payload.severity must be one of critical, error, warning, info"]}


@pytest.mark.parametrize("routing_key", [None, "", 42])
def test_it_refuses_an_event_without_a_routing_key(client, config, routing_key):
    before = ledger()
    response = enqueue(client, pagerduty_event(config, "pagerduty_trigger.json", routing_key=routing_key))
    assert response.status_code == 400
    body = response.get_json()
    assert {k: body[k] for k in INVALID} == INVALID and body["errors"][0].startswith("routing_key is required")
    assert ledger() == before


def test_an_unknown_key_and_another_templates_key_get_the_same_answer(api, client, receiver, config):
    webhook = make_config(api, receiver, "webhook")
    before = ledger()
    unknown = enqueue(client, pagerduty_event(config, "pagerduty_trigger.json", routing_key="x" * 32))
    not_pagerduty = enqueue(client, pagerduty_event(webhook, "pagerduty_trigger.json"))
    assert unknown.status_code == not_pagerduty.status_code == 400
    assert unknown.get_json() == not_pagerduty.get_json() == {
        **INVALID, "errors": ["routing_key is not the API key of a PagerDuty configuration in Klaxon"]}
    assert "x" * 32 not in unknown.get_data(as_text=True)
    assert ledger() == before


def test_malformed_json_gets_pagerdutys_400(client, config):
    response = client.post("/v2/enqueue", data='{"routing_key": ', content_type="application/json")
    assert response.status_code == 400
    body = response.get_json()
    assert {k: body[k] for k in INVALID} == INVALID and body["errors"][0].startswith("body: malformed JSON")


def test_a_disabled_configuration_refuses_events(api, client, config):
    api.patch(f"/api/v1/configurations/{config['uuid']}", json={"enabled": False})
    before = ledger()
    response = enqueue(client, pagerduty_event(config, "pagerduty_trigger.json"))
    assert response.status_code == 409 and "disabled" in response.get_json()["message"]
    assert ledger() == before


def test_it_keeps_the_configurations_rate_limit(api, client, config):
    patched = api.patch(f"/api/v1/configurations/{config['uuid']}", json={"rateLimitPerMinute": 1})
    assert patched.status_code == 200 and patched.get_json()["rateLimitPerMinute"] == 1, patched.get_json()
    clear_of_a_minute_edge()
    accepted(enqueue(client, pagerduty_event(config, "pagerduty_trigger.json")))
    response = enqueue(client, pagerduty_event(config, "pagerduty_trigger.json", dedup_key="another"))
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1


def test_resolving_an_unknown_dedup_key_is_harmless(client, config):
    before = ledger()
    body = accepted(enqueue(client, pagerduty_event(config, "pagerduty_resolve.json", dedup_key="never-sent")))
    assert body == {**SUCCESS, "dedup_key": "never-sent"}
    assert ledger() == before


def test_the_key_is_compared_with_every_pagerduty_configuration(api, client, receiver, config, monkeypatch):
    import blueprints.pagerduty

    others = [make_config(api, receiver, "pagerduty") for _ in range(2)]
    compared = []
    real = blueprints.pagerduty.hmac.compare_digest
    monkeypatch.setattr(blueprints.pagerduty.hmac, "compare_digest",
                        lambda a, b: compared.append(b) or real(a, b))
    accepted(enqueue(client, pagerduty_event(config, "pagerduty_trigger.json")))
    # no early exit on a match: how long it takes must not tell where the key is
    assert sorted(compared) == sorted(c["apiKey"].encode() for c in [config, *others])
