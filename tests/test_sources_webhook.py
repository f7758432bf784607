"""The xMatters trigger body parser (SPEC §2) and the source registry."""
import pytest

from alerting.errors import FieldError
from alerting.sources import PARSERS, AlertChange, SourceError, parse, webhook
from tests.sources import recorded, refusal


def test_it_parses_the_spec_example_into_one_trigger():
    assert parse("webhook", recorded("webhook_trigger.json")) == [AlertChange(
        action="trigger", dedup_key="db-1/disk", subject="Disk full on db-1",
        message="Free space fell below 5%", priority="HIGH",
        properties={"Summary": "Disk full on db-1", "Host": "db-1"},
        recipients=[{"id": "bsmith", "recipientType": "PERSON"},
                    {"id": "Database Team", "recipientType": "GROUP"},
                    {"id": "bsmith|Work Email", "recipientType": "DEVICE"}],
        response_options=[{"text": "Acknowledge", "action": "STOP_NOTIFYING_USER"},
                          {"text": "Resolve", "action": "END", "description": "Close the alert"}],
        expiration_minutes=60, raw_status=None)]


def test_it_accepts_an_empty_body_leaving_every_default_to_the_configuration():
    assert webhook.parse({}) == [AlertChange(action="trigger", properties={})]


def test_it_keeps_properties_in_the_order_received():
    change = webhook.validate({"properties": {"Zeta": 1, "Alpha": {"nested": [1, 2]}, "Mid": None}})
    assert list(change.properties.items()) == [("Zeta", 1), ("Alpha", {"nested": [1, 2]}), ("Mid", None)]


@pytest.mark.parametrize("body, subject", [
    ({"properties": {"Summary": "From Summary", "Subject": "not this"}}, "From Summary"),
    ({"properties": {"Subject": "From Subject"}}, "From Subject"),
    ({"properties": {"Summary": "  ", "Subject": "From Subject"}}, "From Subject"),
    ({"subject": "Given", "properties": {"Summary": "not this"}}, "Given"),
    ({"subject": "", "properties": {"Summary": "From Summary"}}, "From Summary"),
    ({"properties": {"Summary": 42}}, None),
    ({}, None),
])
def test_it_defaults_the_subject_to_summary_then_subject_property(body, subject):
    assert webhook.validate(body).subject == subject


def test_it_reads_priority_and_types_in_any_case():
    change = webhook.validate({"priority": " low ", "recipients": [{"id": "ops", "recipientType": "group"},
                                                                   {"id": "bsmith"}],
                               "responseOptions": [{"text": "Seen"}, {"text": "Stop", "action": "stop_notifying_user"}]})
    assert change.priority == "LOW"
    assert change.recipients == [{"id": "ops", "recipientType": "GROUP"}, {"id": "bsmith", "recipientType": "PERSON"}]
    assert change.response_options == [{"text": "Seen", "action": "RECORD_RESPONSE"},
                                       {"text": "Stop", "action": "STOP_NOTIFYING_USER"}]


@pytest.mark.parametrize("minutes", [1, 525600])
def test_it_accepts_expiration_at_the_bounds(minutes):
    assert webhook.validate({"expirationInMinutes": minutes}).expiration_minutes == minutes


def test_it_accepts_a_dedup_key_of_255_characters():
    assert webhook.validate({"dedupKey": "k" * 255}).dedup_key == "k" * 255


@pytest.mark.parametrize("body, field", [
    ([1, 2], "body"),
    ("Disk full", "body"),
    ({"properties": "Host=db-1"}, "properties"),
    ({"properties": ["Host"]}, "properties"),
    ({"subject": 42}, "subject"),
    ({"message": ["x"]}, "message"),
    ({"priority": "URGENT"}, "priority"),
    ({"priority": 1}, "priority"),
    ({"recipients": "bsmith"}, "recipients"),
    ({"recipients": [7]}, "recipients[0]"),
    ({"recipients": [{"recipientType": "PERSON"}]}, "recipients[0].id"),
    ({"recipients": [{"id": 7}]}, "recipients[0].id"),
    ({"recipients": [{"id": "a"}, {"id": "b", "recipientType": 5}]}, "recipients[1].recipientType"),
    ({"recipients": [{"id": "b" * 201}]}, "recipients[0].id"),
    ({"responseOptions": {"text": "Go"}}, "responseOptions"),
    ({"responseOptions": ["Go"]}, "responseOptions[0]"),
    ({"responseOptions": [{"action": "END"}]}, "responseOptions[0].text"),
    ({"responseOptions": [{"text": "Go", "action": "EXPLODE"}]}, "responseOptions[0].action"),
    ({"responseOptions": [{"text": "Go"}, {"text": "go"}]}, "responseOptions[1].text"),
    ({"responseOptions": [{"text": "Go", "description": 5}]}, "responseOptions[0].description"),
    ({"expirationInMinutes": "soon"}, "expirationInMinutes"),
    ({"expirationInMinutes": "60"}, "expirationInMinutes"),
    ({"expirationInMinutes": True}, "expirationInMinutes"),
    ({"expirationInMinutes": 0}, "expirationInMinutes"),
    ({"expirationInMinutes": 525601}, "expirationInMinutes"),
    ({"expirationInMinutes": 1.5}, "expirationInMinutes"),
    ({"dedupKey": 7}, "dedupKey"),
    ({"dedupKey": "k" * 256}, "dedupKey"),
])
def test_it_rejects_a_bad_field_naming_it(body, field):
    error = refusal("webhook", body)
    assert error.field == field and error.message == str(error)


def test_it_explains_the_allowed_priorities():
    with pytest.raises(SourceError, match=r"^priority must be one of HIGH, MEDIUM, LOW$"):
        webhook.validate({"priority": "URGENT"})


def test_a_source_error_is_a_value_error():
    assert issubclass(SourceError, ValueError)


def test_a_source_error_is_the_field_error_of_a_payload_worded_without_a_colon():
    assert issubclass(SourceError, FieldError)
    error = SourceError("priority", "must be one of HIGH, MEDIUM, LOW")
    assert (error.field, error.message, str(error)) == ("priority", "priority must be one of HIGH, MEDIUM, LOW",
                                                        "priority must be one of HIGH, MEDIUM, LOW")
    assert FieldError("priority", "must be one of HIGH, MEDIUM, LOW").message == \
        "priority: must be one of HIGH, MEDIUM, LOW"
    assert SourceError("dedupKey", "dedupKey is required").message == "dedupKey is required"


def test_the_registry_holds_every_template():
    assert set(PARSERS) == {"webhook", "alertmanager", "grafana", "pagerduty", "custom"}


def test_it_rejects_an_unknown_template_naming_it():
    with pytest.raises(SourceError) as caught:
        parse("nagios", {})
    assert caught.value.field == "template" and "'nagios'" in str(caught.value)
