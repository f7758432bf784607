"""Responses: links show a confirm page and only the POST records; each action; bad tokens record
nothing; the API's POST /alerts/<id>/responses."""
import json
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from itsdangerous import URLSafeTimedSerializer

from alerting.notifications import dispatch as notify
from alerting.notifications.responses import SALT
from extensions import db
from models import Alert, AlertTarget, Notification, Response, TimelineEntry, User, WebhookMessage, utcnow
from tests.conftest import csrf_from
from tests.support import add_user, alert_json, hook, notify_config, person, trigger

OPTIONS = [{"text": "Acknowledge", "action": "STOP_NOTIFYING_USER"},
           {"text": "Resolve", "action": "END", "description": "Close the alert"},
           {"text": "Noted", "action": "RECORD_RESPONSE"},
           {"text": "Mine", "action": "ASSIGN_TO_USER"},
           {"text": "Not us", "action": "STOP_NOTIFYING_TARGET"},
           {"text": "Next", "action": "ESCALATE"}]


@pytest.fixture
def sent(api, client, run_jobs, receiver):
    """An alert delivered to bsmith's webhook device; returns (alert json, {option text: link path})."""
    add_user(api, "bsmith", [hook(receiver, "Hook", "bob")])
    config = notify_config(api, [person("bsmith")], options=OPTIONS, updates={
        "response": {"enabled": True, "url": f"{receiver.url}/updates"}})
    created = trigger(client, config)
    run_jobs()
    receiver.wait_for(1, path="/bob")
    body = receiver.json_bodies(path="/bob")[0]
    return created, {r["text"]: urlsplit(r["url"]).path for r in body["responses"]}


def responses_recorded():
    return db.session.query(Response).count(), \
        db.session.query(TimelineEntry).filter_by(type="RESPONSE_RECEIVED").count()


def confirm(client, path, comment=""):
    page = client.get(path)
    assert page.status_code == 200
    return client.post(path, data={"csrf_token": csrf_from(page.get_data(as_text=True)), "comment": comment})


def test_following_a_link_shows_a_confirm_page_and_records_nothing(client, sent):
    _created, links = sent
    page = client.get(links["Resolve"])
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Disk full on db-1" in html and "Resolve" in html and "Close the alert" in html
    assert 'method="post"' in html and 'name="comment"' in html
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert responses_recorded() == (0, 0)
    assert db.session.query(Alert).one().status == "ACTIVE"


def test_posting_the_confirm_page_records_the_response_once(client, sent, receiver):
    _created, links = sent
    done = confirm(client, links["Noted"], comment="on it")
    assert done.status_code == 200 and "Response recorded" in done.get_data(as_text=True)
    response = db.session.query(Response).one()
    assert (response.recipient, response.device_name, response.response, response.action, response.comment) == \
        ("bsmith", "Hook", "Noted", "RECORD_RESPONSE", "on it")
    entry = db.session.query(TimelineEntry).filter_by(type="RESPONSE_RECEIVED").one()
    assert entry.actor == "bsmith" and entry.detail["response"] == "Noted"
    update = db.session.query(WebhookMessage).filter_by(update_type="response").one()
    payload = json.loads(update.body)
    assert payload["response"] == "Noted" and payload["annotation"] == "on it" and payload["recipient"] == "bsmith"
    again = client.get(links["Noted"])  # that option of the message is answered: it records nothing more
    assert again.status_code == 410 and "already recorded" in again.get_data(as_text=True)
    assert responses_recorded() == (1, 1)
    later = client.get(links["Resolve"])  # another option of the same message is a new response (SPEC §3)
    assert later.status_code == 200 and "already recorded" not in later.get_data(as_text=True)


def test_a_post_without_the_csrf_token_records_nothing(client, sent):
    _, links = sent
    assert client.post(links["Resolve"], data={"comment": "x"}).status_code == 400
    assert responses_recorded() == (0, 0)


def forged(path):
    payload, stamp, signature = path.rsplit("/", 1)[1].split(".")
    # a middle character carries six whole bits of the signature (the last one may not)
    signature = signature[:5] + ("A" if signature[5] != "A" else "B") + signature[6:]
    return f"/respond/{payload}.{stamp}.{signature}"


def foreign(path, app):
    notification_id, index = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=SALT).loads(path.rsplit("/", 1)[1])
    return "/respond/" + URLSafeTimedSerializer("another klaxon's key", salt=SALT).dumps([notification_id, index])


def test_forged_and_foreign_tokens_record_nothing(app, client, sent):
    _, links = sent
    for path in (forged(links["Resolve"]), foreign(links["Resolve"], app), "/respond/nonsense"):
        page = client.get(path)
        assert page.status_code == 400 and "not valid" in page.get_data(as_text=True)
        assert client.post(path, data={"comment": "x"}).status_code == 400
    assert responses_recorded() == (0, 0)


def test_a_link_to_a_notification_that_does_not_exist_is_refused(app, client, sent):
    _, _links = sent
    stranger = URLSafeTimedSerializer(app.config["SECRET_KEY"], salt=SALT).dumps([999999, 0])
    assert client.get(f"/respond/{stranger}").status_code == 400


def test_links_expire_with_the_alert(client, sent):
    created, links = sent
    page = client.get(links["Resolve"])
    alert = db.session.get(Alert, created["eventIdentifier"])
    alert.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert client.get(links["Resolve"]).status_code == 410
    posted = client.post(links["Resolve"], data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert posted.status_code == 410 and "expired" in posted.get_data(as_text=True)
    assert responses_recorded() == (0, 0)


def test_links_of_an_ended_alert_record_nothing(api, client, sent):
    created, links = sent
    api.post(f"/api/v1/alerts/{created['alertId']}/status", json={"status": "TERMINATED_EXTERNAL"})
    page = client.get(links["Acknowledge"])
    assert page.status_code == 410 and "has ended" in page.get_data(as_text=True)
    assert responses_recorded() == (0, 0)


def test_end_terminates_the_alert_as_the_responder(client, sent):
    created, links = sent
    confirm(client, links["Resolve"])
    alert = db.session.get(Alert, created["eventIdentifier"])
    assert alert.status == "TERMINATED_EXTERNAL"
    ended = db.session.query(TimelineEntry).filter_by(alert_id=alert.id, type="EVENT_TERMINATED").one()
    assert ended.actor == "bsmith"
    assert {t.state for t in db.session.query(AlertTarget)} == {"stopped"}


def test_assign_to_user_assigns_the_alert_to_the_responder(client, sent):
    created, links = sent
    confirm(client, links["Mine"])
    alert = db.session.get(Alert, created["eventIdentifier"])
    assert alert.assigned_user_id == db.session.query(User).filter_by(username="bsmith").one().id
    assert alert.status == "ACTIVE"


def test_stop_notifying_user_drops_only_that_users_pending_retries(api, client, run_jobs, receiver):
    for name in ("bsmith", "jdoe"):
        add_user(api, name, [hook(receiver, "Hook", name)])
    api.post("/api/v1/groups", json={"name": "Ops", "members": ["bsmith", "jdoe"]})
    created = trigger(client, notify_config(api, [{"id": "Ops", "recipientType": "GROUP"}], options=OPTIONS))
    run_jobs()
    receiver.wait_for(2)
    # both notifications wait for a retry, as after a transient failure
    db.session.query(Notification).update({"status": "Queued", "locked_until": None, "next_attempt_at": None})
    db.session.commit()
    api.post(f"/api/v1/alerts/{created['alertId']}/responses", json={"recipient": "bsmith", "response": "Acknowledge"})
    for note_id in [n.id for n in db.session.query(Notification)]:
        notify.retry_notification(note_id)
    receiver.wait_for(3)
    assert sorted(r["path"] for r in receiver.requests) == ["/bsmith", "/jdoe", "/jdoe"]
    notes = {n.recipient: n for n in db.session.query(Notification)}
    assert notes["bsmith"].status == "Failed" and notes["bsmith"].result == "Not sent: bsmith responded"
    assert notes["jdoe"].status == "Delivered"
    assert db.session.query(AlertTarget).one().state == "done"


@pytest.mark.parametrize("option, status", [("Not us", "stopped"), ("Noted", "done"), ("Next", "done")])
def test_other_actions_leave_the_alert_open(client, sent, option, status):
    created, links = sent
    confirm(client, links[option])
    assert db.session.get(Alert, created["eventIdentifier"]).status == "ACTIVE"
    assert db.session.query(AlertTarget).one().state == status


def test_the_api_records_a_response_and_applies_it(api, sent):
    created, _ = sent
    response = api.post(f"/api/v1/alerts/{created['alertId']}/responses",
                        json={"recipient": "bsmith", "response": "resolve", "comment": "fixed"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "TERMINATED_EXTERNAL"
    assert body["responses"][0]["response"] == "Resolve" and body["responses"][0]["comment"] == "fixed"
    again = api.post(f"/api/v1/alerts/{created['alertId']}/responses",
                     json={"recipient": "bsmith", "response": "Noted"})
    assert again.status_code == 409


@pytest.mark.parametrize("data, field, words", [
    ({"recipient": "bsmith", "response": "Reboot"}, "response", "must be one of Acknowledge, Resolve"),
    ({"recipient": "nobody", "response": "Resolve"}, "recipient", "nobody"),
    ({"response": "Resolve"}, "recipient", "required"),
])
def test_the_api_rejects_an_unknown_option_or_recipient(api, sent, data, field, words):
    created, _ = sent
    response = api.post(f"/api/v1/alerts/{created['alertId']}/responses", json=data)
    assert response.status_code == 400
    assert response.get_json()["field"] == field and words in response.get_json()["message"]
    assert responses_recorded() == (0, 0)
    assert alert_json(api, created["alertId"])["status"] == "ACTIVE"


def test_a_notification_keeps_its_link_tokens_apart(sent):
    _created, links = sent
    tokens = {path.rsplit("/", 1)[1] for path in links.values()}
    assert len(tokens) == len(OPTIONS)
    assert db.session.query(Notification).count() == 1
