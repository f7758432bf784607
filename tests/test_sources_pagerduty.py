"""The PagerDuty Events API v2 parser and PagerDuty's own response bodies."""
import pytest

from alerting.sources import AlertChange, SourceError, pagerduty, parse
from alerting.sources.pagerduty import pagerduty_error_body, pagerduty_success_body
from tests.sources import recorded, refusal


def trigger(**payload_fields):
    payload = {"summary": "Disk full", "source": "db-1", "severity": "warning", **payload_fields}
    return {"routing_key": "k" * 32, "event_action": "trigger", "payload": payload}


def test_it_turns_a_trigger_into_an_alert():
    assert parse("pagerduty", recorded("pagerduty_trigger.json")) == [AlertChange(
        action="trigger", dedup_key="samplekeyhere", subject="Example alert on host1.example.com",
        message=None, priority="HIGH",
        properties={"source": "host1.example.com", "component": "postgres", "group": "prod-datapipe",
                    "class": "deploy", "ping time": "1500ms", "load avg": 0.75,
                    "disk": {"mount": "/var", "free": "4%"}},
        raw_status="trigger")]


def test_properties_keep_the_documented_order():
    change = pagerduty.parse(recorded("pagerduty_trigger.json"))[0]
    assert list(change.properties) == ["source", "component", "group", "class", "ping time", "load avg", "disk"]


@pytest.mark.parametrize("name, action", [("pagerduty_acknowledge.json", "acknowledge"),
                                          ("pagerduty_resolve.json", "resolve")])
def test_it_acknowledges_and_resolves_by_dedup_key(name, action):
    assert pagerduty.parse(recorded(name)) == [AlertChange(action=action, dedup_key="samplekeyhere",
                                                           raw_status=action)]


def test_a_trigger_without_a_dedup_key_leaves_it_to_the_caller():
    assert pagerduty.parse(trigger())[0].dedup_key is None


@pytest.mark.parametrize("severity, priority", [("critical", "HIGH"), ("error", "HIGH"),
                                                ("warning", "MEDIUM"), ("info", "LOW")])
def test_it_maps_severity_to_priority(severity, priority):
    assert pagerduty.parse(trigger(severity=severity))[0].priority == priority


def test_custom_details_do_not_overwrite_the_standard_fields():
    change = pagerduty.parse(trigger(component="disk", custom_details={"source": "agent", "free": 3}))[0]
    assert change.properties == {"source": "db-1", "component": "disk", "custom_details.source": "agent", "free": 3}


def test_custom_details_that_are_not_an_object_are_kept_whole():
    change = pagerduty.parse(trigger(custom_details="free space 3%"))[0]
    assert change.properties == {"source": "db-1", "custom_details": "free space 3%"}


@pytest.mark.parametrize("body, field", [
    (["trigger"], "body"),
    ({"routing_key": 5, "event_action": "trigger"}, "routing_key"),
    ({"routing_key": "k"}, "event_action"),
    ({"event_action": "snooze"}, "event_action"),
    ({"event_action": "TRIGGER"}, "event_action"),
    ({"event_action": "acknowledge"}, "dedup_key"),
    ({"event_action": "resolve", "dedup_key": ""}, "dedup_key"),
    ({"event_action": "resolve", "dedup_key": 42}, "dedup_key"),
    ({"event_action": "resolve", "dedup_key": "k" * 256}, "dedup_key"),
    ({"event_action": "trigger"}, "payload"),
    ({"event_action": "trigger", "payload": "Disk full"}, "payload"),
    (trigger(summary=None), "payload.summary"),
    (trigger(summary=""), "payload.summary"),
    (trigger(summary=5), "payload.summary"),
    (trigger(summary="x" * 1025), "payload.summary"),
    (trigger(source=None), "payload.source"),
    (trigger(severity=None), "payload.severity"),
    (trigger(severity="fatal"), "payload.severity"),
    (trigger(severity=["critical"]), "payload.severity"),
    (trigger(timestamp=1437122578), "payload.timestamp"),
    (trigger(component=3), "payload.component"),
    (trigger(**{"class": ["deploy"]}), "payload.class"),
])
def test_it_rejects_an_invalid_event_naming_the_field(body, field):
    assert refusal("pagerduty", body).field == field


def test_a_summary_of_1024_characters_is_accepted():
    assert pagerduty.parse(trigger(summary="x" * 1024))[0].subject == "x" * 1024


def test_the_error_body_is_pagerdutys_own():
    with pytest.raises(SourceError) as caught:
        pagerduty.parse(trigger(severity="fatal"))
    assert pagerduty_error_body(caught.value) == {
        "status": "invalid event", "message": "Event object is invalid",
        "errors": ["payload.severity must be one of critical, error, warning, info"]}
    assert pagerduty_error_body("dedup_key is required")["errors"] == ["dedup_key is required"]


def test_the_success_body_is_pagerdutys_own():
    assert pagerduty_success_body("samplekeyhere") == {"status": "success", "message": "Event processed",
                                                       "dedup_key": "samplekeyhere"}
