"""The Grafana Alerting webhook contact point parser, against recorded payloads."""
import pytest

from alerting.sources import AlertChange, grafana, parse
from tests.sources import recorded, refusal

SILENCE_US = ("https://play.grafana.org/alerting/silence/new?alertmanager=grafana"
              "&matchers=alertname%3DT2%2Cteam%3Dblue%2Czone%3Dus-1")
SILENCE_EU = ("https://play.grafana.org/alerting/silence/new?alertmanager=grafana"
              "&matchers=alertname%3DT1%2Cteam%3Dblue%2Czone%3Deu-1")


def test_it_turns_each_firing_alert_into_a_trigger():
    assert parse("grafana", recorded("grafana_firing.json")) == [
        AlertChange(
            action="trigger", dedup_key="grafana:c6eadffa33fcdf37",
            subject="This alert was triggered for zone us-1", message="The system has high memory usage",
            priority=None,
            properties={"alertname": "High memory usage", "team": "blue", "zone": "us-1",
                        "description": "The system has high memory usage",
                        "runbook_url": "https://myrunbook.com/runbook/1234",
                        "summary": "This alert was triggered for zone us-1",
                        "startsAt": "2021-10-12T09:51:03.157076+02:00",
                        "generatorURL": "https://play.grafana.org/alerting/1afz29v7z/edit",
                        "silenceURL": SILENCE_US,
                        "values": {"B": 44.23943737541908, "C": 1},
                        "valueString": "[ var='B' labels={} value=44.23943737541908 ], [ var='C' labels={} value=1 ]"},
            raw_status="firing"),
        AlertChange(
            action="trigger", dedup_key="grafana:bc97ff14869b13e3",
            subject="High CPU usage", message="The system has high CPU usage", priority="HIGH",
            properties={"alertname": "High CPU usage", "severity": "critical", "team": "blue", "zone": "eu-1",
                        "description": "The system has high CPU usage",
                        "runbook_url": "https://myrunbook.com/runbook/1234",
                        "startsAt": "2021-10-12T09:56:03.157076+02:00",
                        "generatorURL": "https://play.grafana.org/alerting/d1rdpdv7k/edit",
                        "silenceURL": SILENCE_EU,
                        "dashboardURL": "https://play.grafana.org/d/000000012",
                        "panelURL": "https://play.grafana.org/d/000000012?viewPanel=2",
                        "values": {"B": 87.5, "C": 1},
                        "valueString": "[ var='B' labels={} value=87.5 ], [ var='C' labels={} value=1 ]"},
            raw_status="firing"),
    ]


def test_a_resolved_alert_resolves_its_fingerprint_and_drops_empty_fields():
    [change] = grafana.parse(recorded("grafana_resolved.json"))
    assert change.action == "resolve" and change.raw_status == "resolved"
    assert change.dedup_key == "grafana:c6eadffa33fcdf37"
    assert list(change.properties)[-3:] == ["startsAt", "generatorURL", "silenceURL"]
    assert "values" not in change.properties and "dashboardURL" not in change.properties


def test_keys_do_not_clash_with_alertmanager_alerts_of_the_same_fingerprint():
    body = {"alerts": [{"status": "firing", "labels": {"alertname": "A"}, "fingerprint": "c6eadffa33fcdf37"}]}
    assert parse("grafana", body)[0].dedup_key != parse("alertmanager", body)[0].dedup_key


@pytest.mark.parametrize("payload, field", [
    ("firing", "body"),
    ({"receiver": "Klaxon", "status": "firing", "orgId": 1}, "alerts"),
    ({"alerts": [None]}, "alerts[0]"),
    ({"alerts": [{"status": "firing", "labels": "alertname=A"}]}, "alerts[0].labels"),
    ({"alerts": [{"status": "firing", "labels": {}}, {"status": "alerting", "labels": {}}]}, "alerts[1].status"),
])
def test_it_rejects_a_malformed_payload_naming_the_field(payload, field):
    assert refusal("grafana", payload).field == field
