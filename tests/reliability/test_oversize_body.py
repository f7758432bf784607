"""A body over the limit gets a readable 413 in SPEC §2's JSON shape from a real `klaxon serve`,
not a reset connection; a number too long to convert is named as such, not as bad UTF-8."""
import http.client
import json
from urllib.parse import urlsplit

import pytest
import requests

pytestmark = pytest.mark.slow
TEN_MB = b'{"subject": "' + b"x" * (10 * 1024 * 1024) + b'"}'


def post(url, body, **headers):
    return requests.post(url, data=body, headers={"Content-Type": "application/json", **headers}, timeout=60)


def stdlib_post(url, body):
    """POST with http.client, which (unlike urllib3) sends the whole body before it reads an answer."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    try:
        connection.request("POST", f"{parts.path}?{parts.query}", body=body,
                           headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_a_10_mb_body_gets_a_readable_413_and_the_connection_still_works(site, figures):
    klaxon = site(workers=1)
    cfg = klaxon.configuration()
    pd = klaxon.configuration(name="PD", template="pagerduty")
    answers = {}
    for name, url, headers in [
            ("integration URL", klaxon.trigger_url(cfg), {}),
            ("integration URL, chunked", klaxon.trigger_url(cfg), {"Transfer-Encoding": "chunked"}),
            ("PagerDuty enqueue", f"{klaxon.url}/v2/enqueue", {}),
            ("REST API", f"{klaxon.url}/api/v1/users", {"Authorization": f"Bearer {klaxon.token}"}),
            ("unknown configuration", f"{klaxon.url}/api/integration/1/functions/{pd['uuid'][:-1]}0/triggers", {})]:
        body = iter([TEN_MB[i:i + 65536] for i in range(0, len(TEN_MB), 65536)]) if "chunked" in name else TEN_MB
        headers.pop("Transfer-Encoding", None)
        try:
            response = post(url, body, **headers)
        except requests.ConnectionError as exc:
            pytest.fail(f"{name}: the connection broke instead of a 413: {exc}")
        answers[name] = response.status_code
        assert response.status_code in (413, 404), (name, response.status_code, response.text[:300])
        error = response.json()
        assert error["code"] == response.status_code and error["reason"] and error["message"], (name, error)
        if response.status_code == 413:
            assert "limit" in error["message"], (name, error)
    for _ in range(3):
        try:
            status, error = stdlib_post(klaxon.trigger_url(cfg), TEN_MB)
        except OSError as exc:
            pytest.fail(f"http.client: the connection broke instead of a 413: {exc!r}")
        assert status == 413 and error["code"] == 413 and "limit" in error["message"], (status, error)
    with requests.Session() as session:  # the same keep-alive connection serves the next request
        session.headers["Content-Type"] = "application/json"
        assert session.post(klaxon.trigger_url(cfg), data=TEN_MB, timeout=60).status_code == 413
        assert session.post(klaxon.trigger_url(cfg), data=b'{"subject": "small"}', timeout=30).status_code == 202
    figures.update(body_bytes=len(TEN_MB), answers=answers)


def test_a_5000_digit_number_is_named_as_too_long(site):
    klaxon = site(workers=1)
    cfg = klaxon.configuration()
    response = post(klaxon.trigger_url(cfg), b'{"subject": "n", "properties": {"n": 1' + b"0" * 5000 + b"}}")
    assert response.status_code == 400, response.text[:300]
    message = response.json()["message"]
    assert "digits" in message and "UTF-8" not in message, message
