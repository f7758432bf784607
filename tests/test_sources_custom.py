"""The custom template: a sandboxed Jinja2 mapping from any JSON to the trigger fields."""
import json
import time

import pytest

from alerting.sources import AlertChange, SourceError, custom, parse
from tests.sources import CUSTOM_MAPPING, CUSTOM_PAYLOAD, refusal

MAPPING = json.dumps(CUSTOM_MAPPING)  # as a configuration stores it
SAMPLE = CUSTOM_PAYLOAD


def rendered(template, payload=None, key="subject"):
    return getattr(custom.parse(SAMPLE if payload is None else payload, {key: template})[0], key)


def test_it_maps_a_payload_to_a_trigger():
    assert parse("custom", SAMPLE, MAPPING) == [AlertChange(
        action="trigger", dedup_key="db-1/disk", subject="Disk full on db-1", message="Free space 3%",
        priority="HIGH", properties={"Host": "db-1", "Check": "disk"}, raw_status="trigger")]


def test_the_action_can_resolve():
    [change] = custom.parse({**SAMPLE, "state": "ok", "level": "warn"}, MAPPING)
    assert (change.action, change.dedup_key, change.priority) == ("resolve", "db-1/disk", "LOW")


def test_missing_fields_render_empty_and_count_as_not_given():
    [change] = custom.parse({"id": None}, MAPPING)
    assert change.subject is None and change.message is None and change.dedup_key is None
    assert change.properties == {"Host": "", "Check": ""}


def test_rendered_json_fills_object_and_number_fields():
    mapping = {"properties": "{{ payload.labels | tojson }}", "expirationInMinutes": "{{ payload.ttl }}",
               "recipients": [{"id": "{{ payload.owner }}", "recipientType": "PERSON"}],
               "responseOptions": [{"text": "Ack", "action": "STOP_NOTIFYING_USER"}]}
    [change] = custom.parse({"labels": {"zone": "eu-1", "team": "db"}, "ttl": 30, "owner": "bsmith"}, mapping)
    assert change.properties == {"zone": "eu-1", "team": "db"}
    assert change.expiration_minutes == 30
    assert change.recipients == [{"id": "bsmith", "recipientType": "PERSON"}]
    assert change.response_options == [{"text": "Ack", "action": "STOP_NOTIFYING_USER"}]


def test_any_json_can_be_the_payload():
    assert rendered("{{ payload[1] | upper }}", ["a", "disk full"]) == "DISK FULL"


def test_preview_shows_the_alert_in_camel_case():
    assert custom.preview(MAPPING, SAMPLE) == {"ok": True, "alerts": [{
        "action": "trigger", "dedupKey": "db-1/disk", "subject": "Disk full on db-1", "message": "Free space 3%",
        "priority": "HIGH", "properties": {"Host": "db-1", "Check": "disk"}, "recipients": None,
        "responseOptions": None, "expirationInMinutes": None, "rawStatus": "trigger"}]}


def test_preview_shows_the_error_and_its_field():
    assert custom.preview('{"priority": "{{ payload.level }}"}', {"level": "URGENT"}) == {
        "ok": False, "field": "priority",
        "error": "priority must be one of HIGH, MEDIUM, LOW (as rendered by the custom mapping)"}


@pytest.mark.parametrize("mapping, payload, field", [
    ({"priority": "{{ payload.level }}"}, {"level": "URGENT"}, "priority"),
    ({"expirationInMinutes": "{{ payload.ttl }}"}, {"ttl": "soon"}, "expirationInMinutes"),
    ({"properties": "{{ payload.host }}"}, {"host": "db-1"}, "properties"),
    ({"recipients": [{"id": "x", "recipientType": "{{ payload.t }}"}]}, {"t": "ROBOT"}, "recipients[0].recipientType"),
    ({"action": "{{ payload.state }}"}, {"state": "explode"}, "action"),
    ({"action": "resolve"}, {}, "dedupKey"),
    ({"dedupKey": "{{ payload.id * 300 }}"}, {"id": "k"}, "dedupKey"),
])
def test_a_bad_rendered_value_is_rejected_naming_the_field(mapping, payload, field):
    assert refusal("custom", payload, json.dumps(mapping)).field == field


@pytest.mark.parametrize("mapping, field", [
    (None, "mapping"),
    ("", "mapping"),
    ("{subject: title}", "mapping"),
    ('["{{ payload.title }}"]', "mapping"),
    ('{"colour": "red"}', "mapping.colour"),
    ('{"subject": "{{ payload.title "}', "mapping.subject"),
    ('{"properties": {"Host": "{% if %}"}}', "mapping.properties.Host"),
    ('{"recipients": [{"id": "{{ 1 / 0 }}"}]}', "mapping.recipients[0].id"),
])
def test_a_bad_mapping_is_rejected_naming_the_field(mapping, field):
    assert refusal("custom", SAMPLE, mapping).field == field


@pytest.mark.parametrize("template", [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ payload.__class__ }}",
    "{{ payload.nothing.__class__ }}",
    "{{ self.__init__.__globals__ }}",
    "{{ range.__globals__ }}",
    "{{ ''['__class__'] }}",
    "{{ '' | attr('__class__') }}",
    "{{ [''] | map(attribute='__class__') | list }}",
    "{{ '{0.__class__.__mro__}'.format('') }}",
    "{{ payload.check.update({'name': 'x'}) }}",
    "{{ cycler.__init__.__globals__.os.system('id') }}",
    "{{ namespace(x=1) }}",
    "{% include '/etc/passwd' %}",
])
def test_a_sandbox_escape_fails_safely(template):
    with pytest.raises(SourceError) as caught:
        rendered(template)
    assert caught.value.field == "mapping.subject"
    assert "root:" not in str(caught.value) and "<class" not in str(caught.value)


@pytest.mark.parametrize("template", [
    "{{ 'a' * 1000000000 }}",
    "{{ ([1] * 1000000000) | length }}",
    "{{ 9 ** 99999999 }}",
    "{{ '%999999999s' % 'a' }}",
    "{{ '%*s' % (99999, 'a') }}",
    "{{ '%999999999s' | format('a') }}",
    "{{ '{:>999999999}'.format('a') }}",
    "{{ '{:{}}'.format('a', 99999) }}",
    "{{ 'a'.ljust(1000000000) }}",
    "{{ 'a' | center(1000000000) }}",
    "{{ ('a' * 100000) | replace('a', 'a' * 100000) }}",
    "{{ ('a' * 100000).replace('a', 'a' * 100000) }}",
    "{{ (['a' * 100000] * 100000) | join }}",
    "{{ ([[1]] * 100000) | sum(start=[]) }}",
    "{{ range(1000000000) | length }}",
    "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "{% macro d(s, n) %}{{ d(s ~ s, n - 1) if n else s | length }}{% endmacro %}{{ d('ab', 60) }}",
    "{% for i in range(100000) %}xxxxxxxxxx{% endfor %}",
])
def test_a_template_that_would_blow_up_fails_fast(template):
    """Fast in this process's CPU time, as tests/test_sandbox.py counts it: what an unbounded render
    spends, and what a loaded machine's other processes do not inflate (wall time once read 1.1 s)."""
    started = time.process_time()
    with pytest.raises(SourceError) as caught:
        rendered(template)
    assert caught.value.field == "mapping.subject"
    assert time.process_time() - started < 0.5


@pytest.mark.parametrize("template", [
    "{{ ','.join(['a', 'b']) }}", "{{ 'a'.ljust(5) }}", "{{ '\\t'.expandtabs(8) }}", "{{ '7'.zfill(3) }}",
    "{{ 'a'.encode() }}", "{{ 'a'.translate({}) }}",
])
def test_strings_offer_only_methods_that_cannot_grow_them(template):
    with pytest.raises(SourceError, match="unsafe"):
        rendered(template)


def test_a_long_render_is_stopped_by_the_time_budget(monkeypatch):
    monkeypatch.setattr(custom, "RENDER_SECONDS", 0.2)
    template = ("{% macro spin() %}{% for j in range(100000) %}{% endfor %}{% endmacro %}"
                "{% for i in range(100000) %}{{ spin() }}{% endfor %}")
    started = time.monotonic()
    with pytest.raises(SourceError, match=r"took longer than 0\.2 s"):
        rendered(template)
    assert time.monotonic() - started < 2


def test_each_field_may_render_up_to_64_kib():
    assert len(rendered("{{ 'x' * 65536 }}")) == 65536
    with pytest.raises(SourceError, match=r"^mapping\.subject renders more than 65536 characters$"):
        rendered("{{ 'x' * 65537 }}")


def test_ordinary_string_helpers_still_work():
    template = "{{ payload.title.upper() }}|{{ '%s/%s' | format(payload.host, 1) }}|{{ '{}!'.format(payload.id) }}"
    assert rendered(template) == "DISK FULL ON DB-1|db-1/1|db-1/disk!"
    assert rendered("{% for k, v in payload.check.items() %}{{ k }}={{ v }}{% endfor %}") == "name=disk"
