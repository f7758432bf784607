"""People: users, devices and groups can be deleted (asked first, CSRF-checked) (issue 19, item 8)."""
import pytest

from extensions import db
from models import Group, User
from tests.conftest import csrf_from

HTMX = {"HX-Request": "true"}


@pytest.fixture
def token(admin_client):
    return csrf_from(admin_client.get("/people").get_data(as_text=True))


def add_bob_with_a_device(admin_client, token):
    admin_client.post("/people/users", data={"username": "bob", "csrf_token": token})
    admin_client.post("/people/users/bob/devices", data={
        "name": "Mail", "kind": "email", "target": "bob@corp.local", "csrf_token": token})
    return db.session.query(User).filter_by(username="bob").one()


def test_the_people_page_offers_delete_buttons_that_ask_first(admin_client, token):
    add_bob_with_a_device(admin_client, token)
    page = admin_client.get("/people").get_data(as_text=True)
    assert "/people/users/bob/delete" in page and 'hx-confirm="Delete bob and their devices?' in page
    assert "/devices/" in page and 'hx-confirm="Delete the device Mail? Past notifications keep its name."' in page


def test_a_device_is_deleted_and_the_card_says_so(admin_client, token):
    bob = add_bob_with_a_device(admin_client, token)
    device_id = bob.devices[0].id
    card = admin_client.post(f"/people/users/bob/devices/{device_id}/delete", headers=HTMX,
                             data={"csrf_token": token}).get_data(as_text=True)
    assert "Deleted device Mail." in card
    db.session.expire_all()
    assert db.session.query(User).filter_by(username="bob").one().devices == []


def test_a_user_is_deleted_but_not_without_the_csrf_token(admin_client, token):
    add_bob_with_a_device(admin_client, token)
    assert admin_client.post("/people/users/bob/delete", data={}).status_code == 400
    gone = admin_client.post("/people/users/bob/delete", headers=HTMX, data={"csrf_token": token})
    assert "Deleted user bob." in gone.get_data(as_text=True)
    assert db.session.query(User).filter_by(username="bob").first() is None


def test_an_admin_cannot_delete_themselves(admin_client, token):
    me = db.session.query(User).filter_by(role="admin").first()
    answer = admin_client.post(f"/people/users/{me.username}/delete", headers=HTMX, data={"csrf_token": token})
    assert "cannot delete yourself" in answer.get_data(as_text=True)
    assert db.session.get(User, me.id) is not None


def test_a_group_is_deleted(admin_client, token):
    admin_client.post("/people/groups", data={"name": "DBA", "mode": "all-at-once", "csrf_token": token})
    group = db.session.query(Group).filter_by(name="DBA").one()
    assert 'hx-confirm="Delete the group DBA?' in admin_client.get("/people/groups").get_data(as_text=True)
    done = admin_client.post(f"/people/groups/{group.id}/delete", data={"csrf_token": token})
    assert done.status_code == 302
    assert db.session.query(Group).filter_by(name="DBA").first() is None


def test_deletes_keep_past_alerts_readable_as_the_api_does(admin_client, token, api, client, run_jobs, receiver):
    """The dashboard deletes through the same alerting.people functions as DELETE /api/v1/…: the
    alert and its notifications stay, naming who they went to; links to the deleted rows become null."""
    from flask import g

    from models import Alert, AlertTarget, GroupMember, Notification
    from tests.support import add_user, drive, hook, notify_config, trigger

    add_user(api, "carol", [hook(receiver, "Hook", "carol")])
    assert api.post("/api/v1/groups", json={"name": "Night", "members": ["carol"]}).status_code == 201
    alert_id = trigger(client, notify_config(api, [{"id": "Night", "recipientType": "GROUP"}]))["eventIdentifier"]
    drive(run_jobs, lambda: db.session.query(Notification).filter_by(alert_id=alert_id, status="Delivered").count())
    g.pop("_login_user", None)  # the test's app context outlives requests; the jobs ended its session
    carol = db.session.query(User).filter_by(username="carol").one()
    device_id = carol.devices[0].id
    assert admin_client.post(f"/people/users/carol/devices/{device_id}/delete", headers=HTMX,
                             data={"csrf_token": token}).status_code == 200
    group = db.session.query(Group).filter_by(name="Night").one()
    assert admin_client.post(f"/people/groups/{group.id}/delete", data={"csrf_token": token}).status_code == 302
    assert admin_client.post("/people/users/carol/delete", data={"csrf_token": token}).status_code == 302
    db.session.expire_all()
    (sent,) = db.session.query(Notification).filter_by(alert_id=alert_id).all()
    assert (sent.recipient, sent.device_name, sent.user_id, sent.device_id) == ("carol", "Hook", None, None)
    assert db.session.query(AlertTarget).filter_by(alert_id=alert_id).one().group_id is None
    assert db.session.query(GroupMember).count() == 0 and db.session.get(Alert, alert_id) is not None
    page = admin_client.get(f"/alerts/{alert_id}")
    assert page.status_code == 200 and "carol" in page.get_data(as_text=True)
    assert api.get(f"/api/v1/alerts/{alert_id}").status_code == 200


def test_a_delete_message_shows_in_the_one_message_area(admin_client, token):
    add_bob_with_a_device(admin_client, token)
    gone = admin_client.post("/people/users/bob/delete", headers=HTMX, data={"csrf_token": token})
    html = gone.get_data(as_text=True)
    assert html.strip().startswith('<div id="flashes" class="flashes" hx-swap-oob="true">')
    assert "Deleted user bob." in html
    assert 'class="saved' not in html  # the card's own status spot is gone: the card itself goes
    page = admin_client.post("/people/users", data={"username": "dave", "csrf_token": token}, follow_redirects=True)
    text = page.get_data(as_text=True)
    assert text.count("Added dave.") == 1 and text.index('id="flashes"') < text.index("Added dave.")


def test_the_confirm_says_which_configurations_still_name_them(admin_client, token, api):
    from tests.support import make_config

    admin_client.post("/people/users", data={"username": "erin", "csrf_token": token})
    api.post("/api/v1/groups", json={"name": "Ops", "members": ["erin"]})
    make_config(api, name="Prod <db>", recipients=[{"id": "erin", "recipientType": "PERSON"},
                                                   {"id": "Ops", "recipientType": "GROUP"}])
    make_config(api, name="Other")
    people = admin_client.get("/people").get_data(as_text=True)
    assert "Past alerts keep their name. Still a recipient of: Prod &lt;db&gt;." in people
    groups = admin_client.get("/people/groups").get_data(as_text=True)
    assert "keep their notifications. Still a recipient of: Prod &lt;db&gt;." in groups


def test_without_javascript_a_delete_button_opens_a_page_that_asks_first(admin_client, token):
    bob = add_bob_with_a_device(admin_client, token)
    page = admin_client.get("/people").get_data(as_text=True)
    assert '<form method="get" action="/people/users/bob/delete"' in page  # no JS: the button GETs the question
    asked = admin_client.get("/people/users/bob/delete")
    text = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "Delete bob and their devices?" in text
    assert 'method="post" action="/people/users/bob/delete"' in text and 'name="csrf_token"' in text
    device_page = admin_client.get(f"/people/users/bob/devices/{bob.devices[0].id}/delete").get_data(as_text=True)
    assert "Delete the device Mail?" in device_page
    db.session.expire_all()
    assert db.session.query(User).filter_by(username="bob").one().devices  # asking deleted nothing
    done = admin_client.post("/people/users/bob/delete", data={"csrf_token": csrf_from(text)}, follow_redirects=True)
    assert "Deleted user bob." in done.get_data(as_text=True)
