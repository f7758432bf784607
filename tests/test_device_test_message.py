"""A device's "Send test" says it is a test, with no fake alert number (issue 19, item 7)."""
import json

import pytest

from alerting.notifications.messages import apprise_body, build_message, render_html, render_text
from tests.mail import smtp_env


@pytest.fixture
def settings_env(smtp_server):
    return smtp_env(smtp_server)


def build_test_message(**extra):
    return build_message(sender_name="Klaxon", subject="Test notification to Work Email", message="A test",
                         priority="LOW", event_identifier=0, alert_id="test", properties={},
                         response_links=[], test=True, **extra)


def test_every_rendering_of_a_test_message_says_test_and_shows_no_alert_number():
    msg = build_test_message()
    for text in (render_text(msg), render_html(msg), "\n".join(apprise_body(msg))):
        assert "Alert #" not in text and "Test message" in text


def test_send_test_email_says_it_is_a_test(admin_client, smtp_server):
    from tests.conftest import csrf_from

    token = csrf_from(admin_client.get("/people").get_data(as_text=True))
    admin_client.post("/people/users", data={"username": "bsmith", "name": "Bob", "csrf_token": token})
    admin_client.post("/people/users/bsmith/devices", data={
        "name": "Work Email", "kind": "email", "target": "bsmith@corp.local", "csrf_token": token})
    from extensions import db
    from models import User

    device = db.session.query(User).filter_by(username="bsmith").one().devices[0]
    admin_client.post(f"/people/users/bsmith/devices/{device.id}/test", data={"csrf_token": token})
    email = smtp_server.wait_for(1)[0]["email"]
    text = email.get_body(("plain",)).get_content()
    html = email.get_body(("html",)).get_content()
    assert "Alert #0" not in text and "Alert #0" not in html
    assert "Test message: no alert behind it" in text and "Test message" in html
    assert email["X-Klaxon-Event"] == "test"


def test_a_webhook_device_test_carries_no_alert_number(receiver, app):
    from alerting.notifications.messages import webhook_device_body

    body = webhook_device_body(build_test_message())
    assert body["test"] is True and body["eventIdentifier"] is None and body["alertId"] is None
    assert json.dumps(body)
