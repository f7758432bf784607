"""/metrics is for the operator's Prometheus, not for anyone: it needs a bearer token (a REST API
token, or KLAXON_METRICS_TOKEN as Prometheus' `authorization: credentials_file` sends it), and it
labels configurations by name, never by the uuid that is half of their integration URL."""
import base64

import pytest

from tests.support import send_alert

METRICS_TOKEN = "metrics-token-for-prometheus-0123456789"


@pytest.fixture
def settings_env():
    return {"KLAXON_METRICS_TOKEN": METRICS_TOKEN}


@pytest.fixture
def cfg(api, client):
    cfg = api.post("/api/v1/configurations", json={"template": "webhook", "name": "Prod DB", "rateLimitPerMinute": 0}
                   ).get_json()
    assert send_alert(client, cfg, {"subject": "counted"}).status_code == 202
    assert send_alert(client, cfg, {"priority": "NOPE"}).status_code == 400
    return cfg


@pytest.mark.parametrize("authorization", [None, "Bearer ", "Bearer wrong-token", f"Basic {METRICS_TOKEN}",
                                           "Basic " + base64.b64encode(f"x:{METRICS_TOKEN}".encode()).decode(),
                                           f"Bearer {METRICS_TOKEN}x", f"Bearer {METRICS_TOKEN[:-1]}"])
def test_metrics_without_a_valid_token_is_a_401(client, cfg, authorization):
    response = client.get("/metrics", headers={"Authorization": authorization} if authorization else {})
    assert response.status_code == 401, response.get_data(as_text=True)[:300]
    body = response.get_json()
    assert body["code"] == 401 and body["reason"] == "Unauthorized" and "KLAXON_METRICS_TOKEN" in body["message"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert cfg["uuid"] not in response.get_data(as_text=True)


def test_the_metrics_token_opens_metrics_labelled_by_configuration_name(client, cfg):
    response = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert 'klaxon_alerts_received_total{configuration="Prod DB",outcome="created"}' in text
    assert 'configuration="Prod DB",outcome="rejected"' in text
    assert cfg["uuid"] not in text and cfg["uuid"][:8] not in text


def test_a_rest_api_token_opens_metrics_too(client, api_token, cfg):
    response = client.get("/metrics", headers={"Authorization": f"Bearer {api_token}"})
    assert response.status_code == 200 and "klaxon_queue_depth" in response.get_data(as_text=True)
