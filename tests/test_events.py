"""Domain events: typed, subscribed in one place by create_app, heard inside the transaction that caused them."""
import dataclasses

import pytest

from alerting import events
from alerting.alerts.lifecycle import change_status
from alerting.flows import triggers
from alerting.update_webhooks import outbox
from app import create_app
from extensions import db
from models import Alert, WebhookMessage
from tests.test_inbound import post


@pytest.fixture
def config(api):
    response = api.post("/api/v1/configurations", json={"name": "Monitoring", "updates": {
        "status": {"enabled": True, "url": "http://127.0.0.1:9/status"}}})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


@pytest.fixture
def heard(monkeypatch):
    """Every event published during the test, after the real listeners have run."""
    seen = []
    for event_class in (events.AlertCreated, events.StatusChanged, events.NotificationSettled,
                        events.ResponseRecorded, events.CommentAdded):
        monkeypatch.setitem(events._listeners, event_class, [*events._listeners.get(event_class, []), seen.append])
    return seen


def test_create_app_subscribes_each_listener_once_in_order(app, settings):
    create_app({"SETTINGS": settings, "TESTING": True})  # a second app in the same process
    assert events._listeners[events.AlertCreated] == [triggers.on_event]
    assert events._listeners[events.StatusChanged] == [outbox.on_status_changed, triggers.on_event]
    assert events._listeners[events.NotificationSettled] == [outbox.on_notification_settled, triggers.on_event]
    assert events._listeners[events.ResponseRecorded] == [outbox.on_response_recorded, triggers.on_event]
    assert events._listeners[events.CommentAdded] == [outbox.on_comment_added]
    assert events._listeners[events.GroupEscalated] == [outbox.on_group_escalated]
    assert events._listeners[events.RecipientFailed] == [outbox.on_recipient_failed]


def test_events_cannot_be_changed_by_a_listener():
    event = events.CommentAdded(alert=None, comment="hello")
    with pytest.raises(dataclasses.FrozenInstanceError):
        event.comment = "changed"


def test_a_process_that_never_wired_its_listeners_refuses_to_publish(monkeypatch):
    monkeypatch.setattr(events, "_listeners", {})
    with pytest.raises(RuntimeError, match="create_app"):
        events.publish(events.CommentAdded(alert=None, comment="lost"))


def test_creating_an_alert_publishes_created_then_active(client, config, heard):
    body = post(client, config).get_json()
    assert [type(e) for e in heard] == [events.AlertCreated, events.StatusChanged]
    assert heard[1].status == "ACTIVE" and heard[0].alert.id == body["eventIdentifier"]


def test_a_comment_publishes_comment_added(api, client, config, heard):
    alert_id = post(client, config).get_json()["eventIdentifier"]
    heard.clear()
    response = api.post(f"/api/v1/alerts/{alert_id}/annotations", json={"comment": "looking into it"})
    assert response.status_code == 201
    [event] = heard
    assert isinstance(event, events.CommentAdded)
    assert (event.alert.id, event.comment, event.username) == (alert_id, "looking into it", "token:tests")


def test_what_listeners_write_rolls_back_with_the_change(client, config):
    alert_id = post(client, config).get_json()["eventIdentifier"]
    db.session.remove()
    before = db.session.query(WebhookMessage).count()
    change_status(db.session.get(Alert, alert_id), "SUSPENDED")
    assert db.session.query(WebhookMessage).count() == before + 1  # written by the outbox listener
    db.session.rollback()
    assert db.session.query(WebhookMessage).count() == before
