"""Alerts list and detail: filters, the polled rows, escaping of what senders wrote, actions."""
import pytest

from tests import support
from tests.conftest import csrf_from

HTMX = {"HX-Request": "true"}
EVIL = "<script>alert(1)</script>"


@pytest.fixture
def cfg(app):
    from alerting import configurations as configs
    from extensions import db

    created = configs.create({"template": "webhook", "name": "Monitoring " + EVIL})
    db.session.commit()
    return created


def trigger(client, cfg, **body):
    """An alert through the real integration URL; its eventIdentifier."""
    return support.trigger(client, cfg, body)["eventIdentifier"]


@pytest.fixture
def token(admin_client):
    return csrf_from(admin_client.get("/alerts").get_data(as_text=True))


def test_what_senders_write_is_escaped_everywhere(admin_client, client, cfg):
    event_id = trigger(client, cfg, subject="Disk " + EVIL, message=EVIL,
                       properties={EVIL: EVIL, "Host": "db-1"}, dedupKey=EVIL)
    pages = [admin_client.get("/alerts"), admin_client.get("/alerts/rows", headers=HTMX),
             admin_client.get(f"/alerts/{event_id}"), admin_client.get("/integrations"),
             admin_client.get(f"/alerts/{event_id}/activity", headers=HTMX)]
    for response in pages:
        page = response.get_data(as_text=True)
        assert EVIL not in page and page.count("<script") == page.count('<script src="/static/')
    detail = pages[2].get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in detail and "db-1" in detail


def test_the_list_filters_by_status_priority_and_configuration(admin_client, client, cfg):
    from alerting import configurations as configs
    from extensions import db

    other = configs.create({"template": "webhook", "name": "Other"})
    db.session.commit()
    high = trigger(client, cfg, subject="High one", priority="HIGH")
    low = trigger(client, cfg, subject="Low one", priority="LOW")
    elsewhere = trigger(client, other, subject="Elsewhere one")
    by_priority = admin_client.get("/alerts?priority=HIGH").get_data(as_text=True)
    assert "High one" in by_priority and "Low one" not in by_priority
    by_config = admin_client.get(f"/alerts?configuration={other.uuid}", headers=HTMX).get_data(as_text=True)
    assert "Elsewhere one" in by_config and "High one" not in by_config
    assert f'/alerts/{elsewhere}"' in by_config and f'/alerts/{low}"' not in by_config
    assert "No alerts match" in admin_client.get("/alerts?status=SUSPENDED").get_data(as_text=True)
    assert f'/alerts/{high}"' in admin_client.get("/alerts?status=BOGUS").get_data(as_text=True)


def test_the_rows_poll_every_three_seconds_with_the_same_filters(admin_client, client, cfg):
    trigger(client, cfg, subject="First")
    rows = admin_client.get("/alerts/rows?priority=LOW", headers=HTMX).get_data(as_text=True)
    assert rows.lstrip().startswith("<tbody") and 'hx-trigger="every 3s"' in rows
    assert "priority=LOW" in rows and "First" not in rows
    assert "First" in admin_client.get("/alerts/rows", headers=HTMX).get_data(as_text=True)


def test_the_list_pages_through_older_alerts(admin_client, client, cfg):
    ids = [trigger(client, cfg, subject=f"Alert number {i}") for i in range(27)]
    first = admin_client.get("/alerts").get_data(as_text=True)
    assert "Alert number 26" in first and "Alert number 1<" not in first and "1–25 of 27" in first
    second = admin_client.get("/alerts?page=2").get_data(as_text=True)
    assert f'/alerts/{ids[0]}"' in second and f'/alerts/{ids[26]}"' not in second


def test_the_detail_shows_properties_timeline_and_no_one_to_notify(admin_client, client, cfg):
    event_id = trigger(client, cfg, subject="Disk full", properties={"Host": "db-1"})
    page = admin_client.get(f"/alerts/{event_id}").get_data(as_text=True)
    assert "Disk full" in page and "Host" in page and "db-1" in page
    assert 'data-type="EVENT_CREATED"' in page
    assert "Nobody is notified" in page
    assert 'hx-trigger="every 3s"' in page, "an open alert's activity refreshes itself"


def test_suspend_resume_and_terminate(admin_client, client, cfg, token):
    from extensions import db
    from models import Alert

    event_id = trigger(client, cfg, subject="Act on me")
    for action, status in (("suspend", "SUSPENDED"), ("resume", "ACTIVE"), ("terminate", "TERMINATED_EXTERNAL")):
        fragment = admin_client.post(f"/alerts/{event_id}/status", headers=HTMX,
                                     data={"action": action, "csrf_token": token}).get_data(as_text=True)
        db.session.expire_all()
        assert db.session.get(Alert, event_id).status == status
        assert 'id="alert"' in fragment and "<html" not in fragment
    assert 'data-type="EVENT_TERMINATED"' in fragment and "by admin" in fragment
    again = admin_client.post(f"/alerts/{event_id}/status", data={"action": "suspend", "csrf_token": token})
    assert again.status_code == 409 and "cannot be suspended" in again.get_data(as_text=True)


def test_a_comment_lands_on_the_timeline_escaped(admin_client, client, cfg, token):
    event_id = trigger(client, cfg, subject="Comment on me")
    response = admin_client.post(f"/alerts/{event_id}/comments", data={"comment": EVIL, "csrf_token": token})
    assert response.status_code == 302
    page = admin_client.get(f"/alerts/{event_id}").get_data(as_text=True)
    assert 'data-type="EVENT_ANNOTATED"' in page and "&lt;script&gt;" in page and EVIL not in page


def test_an_empty_comment_is_refused_beside_the_field(admin_client, client, cfg, token):
    event_id = trigger(client, cfg, subject="Comment on me")
    fragment = admin_client.post(f"/alerts/{event_id}/comments", headers=HTMX,
                                 data={"comment": "   ", "csrf_token": token}).get_data(as_text=True)
    assert "Write a comment first." in fragment and 'id="alert"' in fragment


def test_responders_act_on_alerts(app, client, cfg):
    from extensions import db
    from models import Alert, User
    from tests.conftest import login

    user = User(username="rita", role="responder")
    user.set_password("responder password")
    db.session.add(user)
    db.session.commit()
    event_id = trigger(client, cfg, subject="For rita")
    rita = app.test_client()
    login(rita, "rita", "responder password")
    token = csrf_from(rita.get(f"/alerts/{event_id}").get_data(as_text=True))
    assert rita.post(f"/alerts/{event_id}/status", data={"action": "suspend", "csrf_token": token}).status_code == 302
    db.session.expire_all()
    assert db.session.get(Alert, event_id).status == "SUSPENDED"
    page = rita.get(f"/alerts/{event_id}").get_data(as_text=True)
    assert "/integrations/" not in page, "no links to admin pages for a responder"
