"""Deliveries page: the outbound log with attempts, redeliver one, recover failed since a time, banners."""
from datetime import timedelta

import pytest

from tests.conftest import csrf_from
from tests.support import send_alert

HTMX = {"HX-Request": "true"}


@pytest.fixture
def token(admin_client):
    return csrf_from(admin_client.get("/deliveries").get_data(as_text=True))


@pytest.fixture
def endpoint(app, receiver):
    from alerting import configurations as configs
    from extensions import db

    cfg = configs.create({"template": "webhook", "name": "Monitoring",
                          "updates": {"delivery": {"enabled": True, "url": receiver.url + "/delivery"}}})
    db.session.commit()
    return cfg.endpoint("delivery")


def message(endpoint, status="dead", body='{"deliveryStatus": "<b>Failed</b>"}', age_hours=1, code=500):
    from extensions import db
    from models import WebhookAttempt, WebhookMessage, utcnow

    created = utcnow() - timedelta(hours=age_hours)
    row = WebhookMessage(configuration_id=endpoint.configuration_id, endpoint=endpoint, update_type="delivery",
                         url=endpoint.url, body=body, status=status, attempts=1, last_status_code=code,
                         created_at=created, next_attempt_at=created)
    row.attempts_log.append(WebhookAttempt(url=endpoint.url, status_code=code, duration_ms=12,
                                           response_body="<h1>oops</h1>", at=created))
    db.session.add(row)
    db.session.commit()
    return row


def test_the_log_lists_messages_with_status_and_attempts(admin_client, endpoint):
    dead = message(endpoint)
    page = admin_client.get("/deliveries").get_data(as_text=True)
    assert f'href="/deliveries/{dead.id}"' in page and "badge-dead" in page and "HTTP 500" in page
    assert "No deliveries match" in admin_client.get("/deliveries?status=delivered").get_data(as_text=True)


def test_a_message_shows_its_payload_and_escaped_response_bodies(admin_client, endpoint):
    dead = message(endpoint)
    page = admin_client.get(f"/deliveries/{dead.id}").get_data(as_text=True)
    assert "&lt;h1&gt;oops&lt;/h1&gt;" in page and "<h1>oops" not in page
    assert "&lt;b&gt;Failed&lt;/b&gt;" in page and dead.msg_id in page


def test_redeliver_makes_the_message_pending_again(admin_client, endpoint, token):
    from extensions import db

    dead = message(endpoint)
    fragment = admin_client.post(f"/deliveries/{dead.id}/redeliver", headers=HTMX,
                                 data={"csrf_token": token}).get_data(as_text=True)
    db.session.refresh(dead)
    assert dead.status == "pending" and dead.attempts == 0
    assert "Queued to send again" in fragment and 'id="delivery-status"' in fragment and "<html" not in fragment


def test_redeliver_to_a_disabled_endpoint_says_why_not(admin_client, endpoint, token):
    from extensions import db
    from models import utcnow

    dead = message(endpoint)
    endpoint.disabled_at, endpoint.disabled_reason = utcnow(), "410 Gone"
    db.session.commit()
    fragment = admin_client.post(f"/deliveries/{dead.id}/redeliver", headers=HTMX,
                                 data={"csrf_token": token}).get_data(as_text=True)
    assert "disabled" in fragment and "flash-error" in fragment
    db.session.refresh(dead)
    assert dead.status == "dead"


def test_recover_sends_again_the_dead_messages_since_a_time(admin_client, endpoint, token):
    from extensions import db
    from models import utcnow

    recent, old = message(endpoint, age_hours=1), message(endpoint, age_hours=48)
    since = (utcnow() - timedelta(hours=24)).strftime("%Y-%m-%dT%H:%M")
    response = admin_client.post("/deliveries/recover", data={"endpoint": endpoint.id, "since": since,
                                                              "csrf_token": token})
    assert response.status_code == 302
    db.session.refresh(recent)
    db.session.refresh(old)
    assert (recent.status, old.status) == ("pending", "dead")
    assert "1 failed message since" in admin_client.get("/deliveries").get_data(as_text=True)


def test_recover_without_a_time_is_refused_beside_the_field(admin_client, endpoint, token):
    response = admin_client.post("/deliveries/recover", data={"endpoint": endpoint.id, "since": "yesterday",
                                                              "csrf_token": token})
    assert response.status_code == 422 and "Give a date and time" in response.get_data(as_text=True)


def test_a_disabled_endpoint_gets_a_banner(admin_client, endpoint):
    from extensions import db
    from models import utcnow

    endpoint.disabled_at, endpoint.disabled_reason = utcnow(), "failing for 5 days <b>"
    db.session.commit()
    page = admin_client.get("/deliveries").get_data(as_text=True)
    assert "banner-bad" in page and "Klaxon stopped posting delivery updates" in page
    assert "failing for 5 days &lt;b&gt;" in page
    updates = admin_client.get(f"/integrations/{endpoint.configuration.uuid}/updates").get_data(as_text=True)
    assert "Klaxon stopped sending here" in updates


def test_the_alert_shows_its_webhook_messages(admin_client, endpoint, client):
    from extensions import db

    cfg = endpoint.configuration
    response = send_alert(client, cfg, {"subject": "Hooked"})
    dead = message(endpoint)
    dead.alert_id = response.get_json()["eventIdentifier"]
    db.session.commit()
    page = admin_client.get(f"/alerts/{dead.alert_id}").get_data(as_text=True)
    assert f'id="msg-{dead.id}"' in page and "HTTP 500" in page and f'href="/deliveries/{dead.id}"' in page


def test_saving_a_disabled_update_url_again_releases_its_held_messages(admin_client, endpoint, token):
    from extensions import db
    from models import utcnow

    held = message(endpoint, status="skipped")
    endpoint.disabled_at, endpoint.disabled_reason = utcnow(), "410 Gone"
    db.session.commit()
    admin_client.post(f"/integrations/{endpoint.configuration.uuid}/updates", headers=HTMX, data={
        "csrf_token": token, "delivery_enabled": "on", "delivery_url": endpoint.url})
    db.session.refresh(endpoint)
    db.session.refresh(held)
    assert endpoint.disabled_at is None and held.status == "pending"
    assert "banner-bad" not in admin_client.get("/deliveries").get_data(as_text=True)
