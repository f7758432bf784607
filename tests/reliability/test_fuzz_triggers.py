"""Hypothesis-generated bodies at the integration URL of every template: whatever arrives (any
JSON, trigger-shaped JSON with wrong types and sizes, source-shaped JSON, bytes that are not
JSON), the answer is a 2xx or a 4xx naming the problem, never a 5xx or a stack trace."""
import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.support import integration_path

EXAMPLES = 100
PAYLOADS = Path(__file__).resolve().parent.parent / "payloads"
TRACE = re.compile(r"Traceback|File \"/|sqlalchemy|psycopg|sqlite3")
MAPPING = {"subject": "{{ payload.title }}", "properties": {"Host": "{{ payload.host }}"},
           "expirationInMinutes": "{{ payload.ttl }}", "dedupKey": "{{ payload.id }}",
           "action": "{{ 'resolve' if payload.state == 'ok' else 'trigger' }}"}

scalars = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
           | st.sampled_from(["HIGH", "LOW", "bsmith", "PERSON", "GROUP", "END", "trigger", "resolve", "", "0"]))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=12), inner, max_size=4), max_leaves=15)
recipient = st.fixed_dictionaries({}, optional={"id": json_values | st.just("bsmith|Pager"),
                                                "recipientType": st.sampled_from(["PERSON", "GROUP", "DEVICE", "X"])})
option = st.fixed_dictionaries({}, optional={"text": json_values, "action": st.sampled_from(
    ["END", "ESCALATE", "STOP_NOTIFYING_USER", "nope"]) | json_values, "description": json_values})
trigger_fields = {
    "properties": json_values, "subject": json_values, "message": json_values, "priority": json_values,
    "recipients": st.lists(recipient, max_size=3) | json_values, "responseOptions": st.lists(option, max_size=3),
    "expirationInMinutes": st.integers() | json_values, "dedupKey": json_values,
    # source-shaped fields: Alertmanager, Grafana, PagerDuty and the custom mapping read these
    "alerts": st.lists(st.dictionaries(st.sampled_from(["status", "labels", "annotations", "fingerprint",
                                                        "startsAt", "values"]), json_values), max_size=3),
    "status": json_values, "event_action": json_values, "dedup_key": json_values, "payload": json_values,
    "routing_key": json_values, "title": json_values, "ttl": json_values, "state": json_values,
}
trigger_like = st.fixed_dictionaries({}, optional=trigger_fields)
recorded = st.sampled_from(sorted(PAYLOADS.glob("*.json"))).map(lambda p: json.loads(p.read_text()))
bodies = (trigger_like.map(json.dumps) | json_values.map(json.dumps)
          | recorded.flatmap(lambda base: st.dictionaries(st.sampled_from(sorted(base) or ["x"]), json_values)
                             .map(lambda changes: json.dumps({**base, **changes})))
          | st.binary(max_size=200))


@pytest.fixture
def configurations(api, receiver):
    """One configuration per template, no rate limit, status updates to a local receiver."""
    made = api.post("/api/v1/users", json={"username": "bsmith", "name": "Bob", "role": "responder", "devices": [
        {"name": "Pager", "kind": "webhook", "target": f"{receiver.url}/page"}]})
    assert made.status_code == 201, made.get_json()
    found = {}
    for template in ("webhook", "alertmanager", "grafana", "pagerduty", "custom"):
        extra = {"customMapping": json.dumps(MAPPING)} if template == "custom" else {}
        response = api.post("/api/v1/configurations", json={
            "template": template, "name": template, "rateLimitPerMinute": 0, "recipients": [
                {"id": "bsmith", "recipientType": "PERSON"}], **extra})
        assert response.status_code == 201, response.get_json()
        found[template] = response.get_json()
    return found


def test_generated_trigger_bodies_never_get_a_server_error(client, configurations, figures):
    answers = {}

    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(template=st.sampled_from(sorted(configurations)), body=bodies)
    def post(template, body):
        cfg = configurations[template]
        response = client.post(integration_path(cfg), data=body, content_type="application/json")
        answers[response.status_code] = answers.get(response.status_code, 0) + 1
        text = response.get_data(as_text=True)
        assert response.status_code < 500, f"{template} {body[:300]!r} -> {response.status_code} {text[:300]}"
        assert not TRACE.search(text), f"{template} {body[:300]!r} -> a stack trace: {text[:300]}"
        if response.status_code >= 400:
            assert response.get_json()["message"], f"{template}: a {response.status_code} without a message"
    post()
    figures.update(examples=sum(answers.values()), answers={str(k): v for k, v in sorted(answers.items())})
    assert set(answers) & {200, 202}, "no generated body was ever accepted: the generator is too far off"
