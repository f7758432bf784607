"""Schemathesis against the OpenAPI document of a live Klaxon, with a bearer token: requests that
fit the schema and requests that do not, for every operation, never get a 5xx or a stack trace.

Generated URLs are pointed at a closed port on 127.0.0.1 before sending, so no fuzzed request
makes Klaxon resolve or call a host outside this machine.
"""
import re
from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode

pytestmark = pytest.mark.slow
EXAMPLES = 12  # per operation and mode: ~900 requests in all
SAFE_URL = "http://127.0.0.1:9/fuzz"
TRACE = re.compile(r"Traceback \(most recent call last\)|File \"/|sqlalchemy\.exc|psycopg\.|sqlite3\.")


def local_only(value):
    """The generated value with every URL-looking string replaced by a closed local port."""
    if isinstance(value, dict):
        return {k: local_only(v) for k, v in value.items()}
    if isinstance(value, list):
        return [local_only(v) for v in value]
    if isinstance(value, str) and "://" in value:
        return SAFE_URL
    return value


def seeded(klaxon):
    """Something for the operations to find: a user with a device, a configuration, an alert."""
    klaxon.user("bsmith", [("webhook", "Pager", SAFE_URL)])
    cfg = klaxon.configuration(recipients=["bsmith"],
                               responseOptions=[{"text": "Acknowledge", "action": "STOP_NOTIFYING_USER"}])
    klaxon.http.post(klaxon.trigger_url(cfg), json={"subject": "seed"}, timeout=10)


def fuzz(operation, mode, send):
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        if isinstance(case.body, (dict, list)):
            case.body = local_only(case.body)
        send(case)
    run()


def test_generated_api_requests_never_get_a_server_error_or_a_stack_trace(site, figures):
    klaxon = site(workers=1)
    seeded(klaxon)
    schema = schemathesis.openapi.from_dict(klaxon.call("GET", "/api/v1/openapi.json", expect=200).json())
    bad, answers = [], Counter()

    def send(case):
        response = case.call(base_url=klaxon.url, headers={"Authorization": f"Bearer {klaxon.token}"}, timeout=15)
        answers[response.status_code] += 1
        if response.status_code >= 500 or TRACE.search(response.text):
            bad.append(f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}")

    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            fuzz(operation, mode, send)
    figures.update(operations=len(operations), requests=sum(answers.values()),
                   answers={str(k): v for k, v in sorted(answers.items())}, server_errors=len(bad))
    assert not bad, "\n".join(bad[:20])
    assert klaxon.call("GET", "/readyz").status_code == 200


def test_the_openapi_document_covers_every_api_route(app, client):
    """Schemathesis fuzzes what the document lists, so every /api/v1 route and method must be in it."""
    def shape(path):
        return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)

    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    documented = {(shape(path), method.upper()) for path, ops in paths.items() for method in ops}
    routes = {(shape(rule.rule), method) for rule in app.url_map.iter_rules() if rule.rule.startswith("/api/v1/")
              for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes - documented == {("/api/v1/openapi.json", "GET")}
