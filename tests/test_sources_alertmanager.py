"""The Prometheus Alertmanager webhook parser (version 4), against recorded payloads."""
import pytest

from alerting.sources import AlertChange, SourceError, alertmanager, parse
from tests.sources import recorded, refusal

GENERATOR = "http://prometheus.example.org:9090/graph?g0.expr=probe_success+%3D%3D+0&g0.tab=1"


def alert(**fields):
    base = {"status": "firing", "labels": {"alertname": "DiskFull"}, "fingerprint": "abc"}
    return {"version": "4", "status": "firing", "alerts": [{**base, **fields}]}


def test_it_turns_each_firing_alert_into_a_trigger():
    assert parse("alertmanager", recorded("alertmanager_firing.json")) == [
        AlertChange(
            action="trigger", dedup_key="alertmanager:1a30ba71cca2921f",
            subject="BlackBox Probe Failure: https://server.example.org",
            message="Instance https://server.example.org has been down for over 5m. Job: http_checks",
            priority="HIGH",
            properties={"alertname": "ProbeFailure", "instance": "https://server.example.org", "job": "http_checks",
                        "monitor": "master", "severity": "critical",
                        "description": "Instance https://server.example.org has been down for over 5m. Job: http_checks",
                        "summary": "BlackBox Probe Failure: https://server.example.org",
                        "startsAt": "2023-02-06T13:08:45.828Z", "generatorURL": GENERATOR},
            raw_status="firing"),
        AlertChange(
            action="trigger", dedup_key="alertmanager:7f2c1e0a9b3d4c55", subject="ProbeFailure", message=None,
            priority="MEDIUM",
            properties={"alertname": "ProbeFailure", "instance": "https://backup.example.org", "job": "http_checks",
                        "monitor": "master", "severity": "warning",
                        "runbook_url": "https://runbooks.example.org/probe-failure",
                        "startsAt": "2023-02-06T13:09:15.828Z", "generatorURL": GENERATOR},
            raw_status="firing"),
    ]


def test_labels_come_first_then_annotations_then_times_and_links():
    change = alertmanager.parse(recorded("alertmanager_firing.json"))[0]
    assert list(change.properties) == ["alertname", "instance", "job", "monitor", "severity",
                                       "description", "summary", "startsAt", "generatorURL"]


def test_a_resolved_alert_resolves_the_key_its_firing_one_opened():
    firing = alertmanager.parse(recorded("alertmanager_firing.json"))[0]
    [resolved] = alertmanager.parse(recorded("alertmanager_resolved.json"))
    assert resolved.action == "resolve" and resolved.raw_status == "resolved"
    assert resolved.dedup_key == firing.dedup_key == "alertmanager:1a30ba71cca2921f"


def test_without_a_fingerprint_the_key_is_a_hash_of_the_sorted_labels():
    one = alertmanager.parse(alert(fingerprint=None, labels={"alertname": "DiskFull", "host": "db-1"}))[0]
    same = alertmanager.parse(alert(fingerprint="", status="resolved", labels={"host": "db-1", "alertname": "DiskFull"}))[0]
    other = alertmanager.parse(alert(fingerprint=None, labels={"alertname": "DiskFull", "host": "db-2"}))[0]
    assert one.dedup_key == same.dedup_key
    assert one.dedup_key != other.dedup_key
    assert one.dedup_key.startswith("alertmanager:") and len(one.dedup_key) == len("alertmanager:") + 16


@pytest.mark.parametrize("severity, priority", [
    ("critical", "HIGH"), ("page", "HIGH"), ("error", "HIGH"), ("high", "HIGH"), (" Critical ", "HIGH"),
    ("warning", "MEDIUM"), ("warn", "MEDIUM"), ("medium", "MEDIUM"),
    ("info", "LOW"), ("low", "LOW"), ("none", "LOW"),
    ("disaster", None), (3, None), (None, None),
])
def test_it_maps_the_severity_label_to_a_priority(severity, priority):
    labels = {"alertname": "DiskFull"} if severity is None else {"alertname": "DiskFull", "severity": severity}
    assert alertmanager.parse(alert(labels=labels))[0].priority == priority


def test_an_annotation_named_like_a_label_keeps_both():
    change = alertmanager.parse(alert(labels={"alertname": "A", "team": "db"},
                                      annotations={"team": "Database", "summary": "S"}))[0]
    assert change.properties == {"alertname": "A", "team": "db", "annotations.team": "Database", "summary": "S"}


def test_without_summary_or_alertname_the_subject_is_left_to_the_configuration():
    change = alertmanager.parse(alert(labels={"job": "node"}, annotations={"summary": "  "}))[0]
    assert change.subject is None and change.message is None


def test_an_empty_alert_list_changes_nothing():
    assert alertmanager.parse({"version": "4", "status": "firing", "alerts": []}) == []


@pytest.mark.parametrize("payload, field", [
    ([{"status": "firing"}], "body"),
    ({"version": "4"}, "alerts"),
    ({"alerts": {"status": "firing"}}, "alerts"),
    ({"alerts": ["firing"]}, "alerts[0]"),
    ({"alerts": [{"status": "firing"}]}, "alerts[0].labels"),
    ({"alerts": [{"status": "firing", "labels": ["alertname=A"]}]}, "alerts[0].labels"),
    ({"alerts": [{"status": "firing", "labels": {}, "annotations": "x"}]}, "alerts[0].annotations"),
    ({"alerts": [{"status": "firing", "labels": {}, "fingerprint": 12}]}, "alerts[0].fingerprint"),
    ({"alerts": [{"labels": {}}]}, "alerts[0].status"),
    ({"alerts": [{"status": ["firing"], "labels": {}}]}, "alerts[0].status"),
    ({"alerts": [{"status": "firing", "labels": {}}, {"status": "resolved", "labels": {}},
                 {"status": "pending", "labels": {}}]}, "alerts[2].status"),
])
def test_it_rejects_a_malformed_payload_naming_the_field(payload, field):
    assert refusal("alertmanager", payload).field == field


def test_a_wrong_status_says_what_is_allowed():
    with pytest.raises(SourceError, match=r'^alerts\[0\]\.status must be "firing" or "resolved"$'):
        alertmanager.parse(alert(status="pending"))
