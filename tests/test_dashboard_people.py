"""People page: add users and devices, switch devices, test them, build groups in order."""
import pytest

from tests.conftest import csrf_from

HTMX = {"HX-Request": "true"}


@pytest.fixture
def token(admin_client):
    return csrf_from(admin_client.get("/people").get_data(as_text=True))


def user(username):
    from models import User

    return User.query.filter_by(username=username).one()


def test_it_adds_a_user(admin_client, token):
    response = admin_client.post("/people/users", data={"username": "bsmith", "name": "Bob Smith",
                                                        "role": "responder", "csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"].endswith("#user-bsmith")
    assert user("bsmith").name == "Bob Smith" and user("bsmith").password_hash is None
    page = admin_client.get("/people").get_data(as_text=True)
    assert 'id="user-bsmith"' in page and "No devices" in page


def test_a_bad_user_keeps_the_input_and_names_the_field(admin_client, token):
    response = admin_client.post("/people/users", data={"username": "Bad Name!", "name": "Keep <Me>",
                                                        "role": "admin", "csrf_token": token})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "Use lower-case letters" in page and 'value="Keep &lt;Me&gt;"' in page
    assert '<option value="admin" selected>' in page


def test_a_taken_username_is_refused(admin_client, token):
    page = admin_client.post("/people/users", data={"username": "admin", "csrf_token": token})
    assert page.status_code == 422 and "already taken" in page.get_data(as_text=True)


def add_bsmith(admin_client, token):
    admin_client.post("/people/users", data={"username": "bsmith", "name": "Bob", "csrf_token": token})


def test_it_adds_a_device_in_place(admin_client, token, receiver):
    add_bsmith(admin_client, token)
    response = admin_client.post("/people/users/bsmith/devices", headers=HTMX, data={
        "name": "Ops hook", "kind": "webhook", "target": receiver.url + "/page", "csrf_token": token})
    fragment = response.get_data(as_text=True)
    assert response.status_code == 200 and fragment.lstrip().startswith('<section class="card user-card"')
    assert "Ops hook" in fragment and "Added device Ops hook." in fragment
    assert [d.name for d in user("bsmith").devices] == ["Ops hook"]


def test_a_bad_device_is_refused_beside_its_field(admin_client, token):
    add_bsmith(admin_client, token)
    fragment = admin_client.post("/people/users/bsmith/devices", headers=HTMX, data={
        "name": "Mail", "kind": "email", "target": "not an address", "csrf_token": token}).get_data(as_text=True)
    assert 'class="error"' in fragment and 'value="not an address"' in fragment
    assert user("bsmith").devices == []


def test_it_switches_a_device_off_and_on(admin_client, token, receiver):
    add_bsmith(admin_client, token)
    admin_client.post("/people/users/bsmith/devices", data={
        "name": "Ops hook", "kind": "webhook", "target": receiver.url, "csrf_token": token})
    device_id = user("bsmith").devices[0].id
    fragment = admin_client.post(f"/people/users/bsmith/devices/{device_id}/enabled", headers=HTMX,
                                 data={"csrf_token": token}).get_data(as_text=True)
    assert user("bsmith").devices[0].enabled is False and "Disabled" in fragment
    admin_client.post(f"/people/users/bsmith/devices/{device_id}/enabled", data={"csrf_token": token})
    assert user("bsmith").devices[0].enabled is True


def test_a_test_notification_reaches_a_webhook_device(admin_client, token, receiver):
    add_bsmith(admin_client, token)
    admin_client.post("/people/users/bsmith/devices", data={
        "name": "Ops hook", "kind": "webhook", "target": receiver.url + "/page", "csrf_token": token})
    device_id = user("bsmith").devices[0].id
    fragment = admin_client.post(f"/people/users/bsmith/devices/{device_id}/test", headers=HTMX,
                                 data={"csrf_token": token}).get_data(as_text=True)
    receiver.wait_for(1, path="/page")
    assert "Test to Ops hook: sent" in fragment


def test_it_builds_a_group_and_orders_its_members(admin_client, token):
    for name in ("amy", "bob", "cat"):
        admin_client.post("/people/users", data={"username": name, "csrf_token": token})
    response = admin_client.post("/people/groups", data={
        "name": "Database Team", "mode": "escalate-in-order", "escalationDelayMinutes": "2.5",
        "members": ["amy", "bob"], "csrf_token": token})
    assert response.status_code == 302
    from models import Group

    group = Group.query.one()
    assert group.mode == "escalate-in-order" and group.escalation_delay_minutes == 2.5
    url = f"/people/groups/{group.id}"
    admin_client.post(url, headers=HTMX, data={"op": "add", "username": "cat", "csrf_token": token})
    admin_client.post(url, headers=HTMX, data={"op": "up", "username": "cat", "csrf_token": token})
    fragment = admin_client.post(url, headers=HTMX, data={"op": "remove", "username": "amy",
                                                          "csrf_token": token}).get_data(as_text=True)
    assert [m.user.username for m in Group.query.one().members] == ["cat", "bob"]
    assert fragment.index("cat") < fragment.index("bob") and "<html" not in fragment


def test_a_group_with_a_bad_delay_keeps_what_was_typed(admin_client, token):
    response = admin_client.post("/people/groups", data={
        "name": "Night shift", "mode": "all-at-once", "escalationDelayMinutes": "soon", "csrf_token": token})
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "Must be a number of minutes" in page
    assert 'value="Night shift"' in page and 'value="soon"' in page


def test_changing_mode_and_delay_in_place(admin_client, token):
    admin_client.post("/people/groups", data={"name": "Team", "csrf_token": token})
    from models import Group

    group = Group.query.one()
    fragment = admin_client.post(f"/people/groups/{group.id}", headers=HTMX, data={
        "mode": "escalate-in-order", "escalationDelayMinutes": "10", "csrf_token": token}).get_data(as_text=True)
    assert "10 min apart" in fragment
    bad = admin_client.post(f"/people/groups/{group.id}", headers=HTMX, data={
        "mode": "sometimes", "escalationDelayMinutes": "10", "csrf_token": token}).get_data(as_text=True)
    assert "Must be one of" in bad


def test_an_existing_group_gets_members_from_a_tick_list(admin_client, token):
    """Item 8 of issue 19: the picker lists only people not yet in the group, narrowed by typing,
    with a hint; several ticked people join at once; ticking nobody says so beside the list."""
    for name in ("amy", "bob", "cat"):
        admin_client.post("/people/users", data={"username": name, "csrf_token": token})
    admin_client.post("/people/groups", data={"name": "Web", "members": ["bob"], "csrf_token": token})
    from models import Group

    group = Group.query.one()
    page = admin_client.get("/people/groups").get_data(as_text=True)
    picker = page[page.index(f'id="add-member-{group.id}"'):page.index("group-settings")]
    assert "data-picker-search" in picker and "Tick everyone to add" in picker
    assert 'value="amy"' in picker and 'value="cat"' in picker and 'value="bob"' not in picker
    assert 'type="checkbox" name="username"' in picker and "<select" not in picker
    url = f"/people/groups/{group.id}"
    none = admin_client.post(url, data={"op": "add", "csrf_token": token})
    assert none.status_code == 422 and "Tick at least one person" in none.get_data(as_text=True)
    fragment = admin_client.post(url, headers=HTMX, data={"op": "add", "username": ["cat", "amy"],
                                                          "csrf_token": token}).get_data(as_text=True)
    assert [m.user.username for m in Group.query.one().members] == ["bob", "cat", "amy"]
    assert 'hx-swap-oob="true"' in fragment and "Added cat, amy to Web." in fragment
