"""Responses (SPEC §3): Acknowledge then Resolve from the same email through the link pages; the alert
page's response buttons for the signed-in user; who responded last on the list and the alert page."""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest

from extensions import db
from models import Alert, Response, TimelineEntry
from tests.conftest import csrf_from
from tests.mail import smtp_env
from tests.support import add_user, notify_config, person, trigger

HTMX = {"HX-Request": "true"}


@pytest.fixture
def settings_env(smtp_server):
    return smtp_env(smtp_server)


def respond(client, path):
    page = client.get(path)
    if page.status_code != 200:
        return page
    return client.post(path, data={"csrf_token": csrf_from(page.get_data(as_text=True))})


def test_acknowledge_then_resolve_from_the_same_email(api, client, run_jobs, smtp_server):
    add_user(api, "bsmith", [{"name": "Work Email", "kind": "email", "target": "bsmith@example.com"}])
    created = trigger(client, notify_config(api, [person("bsmith")]))  # Acknowledge, Resolve
    run_jobs()
    (sent,) = smtp_server.wait_for(1)
    text = sent["email"].get_body(preferencelist=("plain",)).get_content()
    ack, resolve = (urlsplit(u).path for u in re.findall(r"http://klaxon\.test/respond/[\w.-]+", text))
    assert respond(client, ack).status_code == 200
    again = respond(client, ack)  # the same option twice: nothing more, and it says so
    assert again.status_code == 410 and "already recorded" in again.get_data(as_text=True)
    assert db.session.query(Alert).one().status == "ACTIVE"
    done = respond(client, resolve)  # another option of the same message still works after Acknowledge
    assert done.status_code == 200 and "Response recorded" in done.get_data(as_text=True)
    db.session.expire_all()
    assert db.session.query(Alert).one().status == "TERMINATED_EXTERNAL"
    assert [r.response for r in db.session.query(Response).order_by(Response.id)] == ["Acknowledge", "Resolve"]
    assert created["alertId"]


def test_the_alert_page_responds_as_the_signed_in_user(admin_client, api, run_jobs):
    created = trigger(admin_client, notify_config(api, [person("admin")]))
    alert_id = db.session.query(Alert).one().id
    page = admin_client.get(f"/alerts/{alert_id}").get_data(as_text=True)
    assert 'id="respond"' in page and ">Acknowledge</button>" in page and ">Resolve</button>" in page
    token = csrf_from(page)
    assert admin_client.post(f"/alerts/{alert_id}/respond", data={"response": "Acknowledge"}).status_code == 400
    fragment = admin_client.post(f"/alerts/{alert_id}/respond", headers=HTMX,
                                 data={"csrf_token": token, "response": "Acknowledge"}).get_data(as_text=True)
    assert 'id="last-response"' in fragment and "<strong>Acknowledge</strong> by admin" in fragment
    twice = admin_client.post(f"/alerts/{alert_id}/respond", data={"csrf_token": token, "response": "Acknowledge"})
    assert twice.status_code == 409 and "already recorded" in twice.get_data(as_text=True)
    entry = db.session.query(TimelineEntry).filter_by(type="RESPONSE_RECEIVED").one()
    assert entry.actor == "admin" and entry.detail["device"] == "Dashboard"
    listed = admin_client.get("/alerts").get_data(as_text=True)
    assert "Acknowledge by admin" in listed
    ended = admin_client.post(f"/alerts/{alert_id}/respond", data={"csrf_token": token, "response": "Resolve"})
    assert ended.status_code == 302
    db.session.expire_all()
    assert db.session.query(Alert).one().status == "TERMINATED_EXTERNAL" and created
    assert 'id="respond"' not in admin_client.get(f"/alerts/{alert_id}").get_data(as_text=True)
