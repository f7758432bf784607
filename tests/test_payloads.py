"""Update webhook bodies, field by field, in xMatters' form (SPEC §4)."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from alerting.update_webhooks.payloads import (
    delivery_payload,
    encode,
    event_properties,
    format_date,
    response_payload,
    status_payload,
)

WHEN = datetime(2017, 4, 12, 23, 1, 51, 328999, tzinfo=UTC)
PROPS = {"Host": "db-1", "Env": "prod", "Check": "disk"}


def test_the_date_is_utc_in_xmatters_format():
    assert format_date(WHEN) == "17-04-12 23:01:51.328"
    assert format_date(datetime(2017, 4, 12, 23, 1, 51, 328000)) == "17-04-12 23:01:51.328"  # naive is UTC
    assert format_date(datetime(2017, 4, 13, 1, 1, 51, 5000, tzinfo=timezone(timedelta(hours=2)))) \
        == "17-04-12 23:01:51.005"
    assert format_date(datetime(2009, 1, 2, 3, 4, 5, tzinfo=UTC)) == "09-01-02 03:04:05.000"


def test_event_properties_are_one_key_objects_in_the_order_received():
    assert event_properties(PROPS) == [{"Host": "db-1"}, {"Env": "prod"}, {"Check": "disk"}]
    assert event_properties({"b": 1, "a": {"nested": True}}) == [{"b": 1}, {"a": {"nested": True}}]
    assert event_properties({}) == [] and event_properties(None) == []


def test_the_status_payload_matches_xmatters():
    payload = status_payload(869000, "ACTIVE", None, WHEN, PROPS)
    assert list(payload) == ["eventIdentifier", "status", "username", "date", "eventProperties"]
    assert payload == {"eventIdentifier": 869000, "status": "active", "username": None,
                       "date": "17-04-12 23:01:51.328",
                       "eventProperties": [{"Host": "db-1"}, {"Env": "prod"}, {"Check": "disk"}]}


@pytest.mark.parametrize("status", ["active", "SUSPENDED", "terminated", "TERMINATED_EXTERNAL"])
def test_every_status_is_sent_in_lower_case(status):
    assert status_payload(1, status, "bsmith", WHEN, {})["status"] == status.lower()


def test_an_unknown_status_is_refused():
    with pytest.raises(ValueError, match="status"):
        status_payload(1, "resolved", None, WHEN, {})


def test_subject_and_alert_message_appear_only_when_asked_for():
    plain = status_payload(1, "active", "bsmith", WHEN, PROPS, subject="Disk full", alert_message="5% left")
    assert "subject" not in plain and "alertMessage" not in plain
    extra = status_payload(1, "active", "bsmith", WHEN, PROPS, subject="Disk full", alert_message="5% left",
                           include=True)
    assert (extra["subject"], extra["alertMessage"], extra["username"]) == ("Disk full", "5% left", "bsmith")


def test_the_delivered_payload_matches_the_spec_example_byte_for_byte():
    payload = delivery_payload(869000, "bsmith", "Work Email", 276326, True, None, WHEN, {"Host": "db-1"})
    assert encode(payload) == (
        '{"recipient":"bsmith","device":"Work Email","deliveryStatus":"Delivered","deviceId":276326,'
        '"eventType":"LIVE_NOTIFICATION_PROVIDER_DELIVERED","message":"Notification delivered",'
        '"eventIdentifier":869000,"date":"17-04-12 23:01:51.328","eventProperties":[{"Host":"db-1"}]}')


def test_a_failed_delivery_carries_the_error_as_message():
    payload = delivery_payload(869000, "bsmith", "Ops hook", 12, False, "webhook: HTTP 500", WHEN, PROPS,
                               subject="Disk full", alert_message="5% left", include=True)
    assert payload["deliveryStatus"] == "Failed"
    assert payload["eventType"] == "LIVE_NOTIFICATION_PROVIDER_FAILED"
    assert payload["message"] == "webhook: HTTP 500"
    assert (payload["deviceId"], payload["device"], payload["recipient"]) == (12, "Ops hook", "bsmith")
    assert list(payload)[-2:] == ["subject", "alertMessage"]


def test_the_response_payload_matches_xmatters():
    payload = response_payload(869000, "bsmith", "Work Email", "Acknowledge", "on it", WHEN, PROPS)
    assert list(payload) == ["eventIdentifier", "recipient", "device", "response", "annotation", "date",
                             "eventProperties"]
    assert payload["response"] == "Acknowledge" and payload["annotation"] == "on it"
    assert payload["date"] == "17-04-12 23:01:51.328" and payload["eventProperties"][0] == {"Host": "db-1"}
    assert response_payload(1, "bsmith", None, "Resolve", "", WHEN, {})["annotation"] is None


def test_encode_is_compact_and_keeps_non_ascii_text():
    text = encode({"subject": "Disque plein — db-1", "n": [1, 2]})
    assert text == '{"subject":"Disque plein — db-1","n":[1,2]}'
    assert json.loads(text) == {"subject": "Disque plein — db-1", "n": [1, 2]}
