"""/api/v1/users (with devices) and /api/v1/groups: create, read, change, remove, and errors naming the field."""
import pytest

from extensions import db
from models import Device, GroupMember, User

BOB = {"username": "bsmith", "name": "Bob Smith", "role": "responder",
       "devices": [{"name": "Work Email", "kind": "email", "target": "bsmith@example.com"},
                   {"name": "Ops hook", "kind": "webhook", "target": "http://127.0.0.1:9/page"}]}
# (a public address: a webhook device's host must resolve when it is saved, and tests have no DNS)


def make_user(api, body=None, **changes):
    response = api.post("/api/v1/users", json={**(body or BOB), **changes})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_it_creates_a_user_with_devices_in_order(api):
    bob = make_user(api)
    assert bob["username"] == "bsmith" and bob["name"] == "Bob Smith" and bob["role"] == "responder"
    assert [(d["name"], d["kind"], d["order"], d["enabled"]) for d in bob["devices"]] == [
        ("Work Email", "email", 0, True), ("Ops hook", "webhook", 1, True)]
    device = db.session.get(Device, bob["devices"][0]["deviceId"])
    assert device.target == "bsmith@example.com" and device.user.username == "bsmith"
    assert api.get("/api/v1/users/bsmith").get_json() == bob


def test_it_lists_users_newest_first_in_pages(api):
    for name in ("u1", "u2", "u3"):
        make_user(api, {"username": name})
    first = api.get("/api/v1/users?limit=2").get_json()
    assert [u["username"] for u in first["items"]] == ["u3", "u2"]
    rest = api.get(f"/api/v1/users?limit=2&cursor={first['next']}").get_json()
    assert [u["username"] for u in rest["items"]] == ["u1"] and rest["next"] is None


@pytest.mark.parametrize("changes, field, words", [
    ({"username": "Bob Smith"}, "username", "lower-case"),
    ({"username": ""}, "username", "must not be empty"),
    ({"role": "boss"}, "role", "admin, responder"),
    ({"devices": [{"name": "A", "kind": "pager", "target": "x"}]}, "devices[0].kind", "email, webhook, apprise"),
    ({"devices": [{"name": "A", "kind": "email", "target": "a@example.com"},
                  {"name": "B", "kind": "email", "target": "not-an-address"}]},
     "devices[1].target", "not an email address"),
    ({"devices": [{"name": "A", "kind": "webhook", "target": "ftp://x"}]}, "devices[0].target", "http"),
    ({"devices": [{"name": "A", "kind": "email", "target": "a@example.com"},
                  {"name": "a", "kind": "email", "target": "b@example.com"}]}, "devices[1].name", "twice"),
    ({"devices": [{"kind": "email", "target": "a@example.com"}]}, "devices[0].name", "required"),
    ({"nickname": "bob"}, "nickname", "not a known field"),
])
def test_it_rejects_a_bad_user_naming_the_field(api, changes, field, words):
    response = api.post("/api/v1/users", json={**BOB, **changes})
    assert response.status_code == 400
    body = response.get_json()
    assert body["field"] == field and words in body["message"] and body["message"].startswith(field)
    assert db.session.query(User).count() == 0 and db.session.query(Device).count() == 0


def test_it_refuses_a_username_that_is_taken(api):
    make_user(api)
    response = api.post("/api/v1/users", json=BOB)
    assert response.status_code == 409 and "bsmith" in response.get_json()["message"]


def test_it_changes_a_user_and_keeps_devices_listed_by_id(api):
    bob = make_user(api)
    email_id = bob["devices"][0]["deviceId"]
    response = api.patch("/api/v1/users/bsmith", json={
        "name": "Robert Smith", "role": "admin",
        "devices": [{"name": "Chat", "kind": "apprise", "target": "json://127.0.0.1:9/hook"},
                    {"deviceId": email_id, "target": "robert@example.com", "enabled": False}]})
    assert response.status_code == 200, response.get_json()
    changed = response.get_json()
    assert changed["name"] == "Robert Smith" and changed["role"] == "admin"
    assert [(d["name"], d["order"], d["enabled"]) for d in changed["devices"]] == [
        ("Chat", 0, True), ("Work Email", 1, False)]
    assert changed["devices"][1]["deviceId"] == email_id
    assert changed["devices"][1]["target"] == "robert@example.com"
    assert db.session.query(Device).count() == 2


def test_it_adds_changes_and_removes_one_device(api):
    make_user(api, {"username": "jdoe"})
    added = api.post("/api/v1/users/jdoe/devices", json={"name": "Phone", "kind": "webhook",
                                                          "target": "http://127.0.0.1:9/jdoe"})
    assert added.status_code == 201
    device_id = added.get_json()["deviceId"]
    again = api.post("/api/v1/users/jdoe/devices", json={"name": "phone", "kind": "email", "target": "j@example.com"})
    assert again.status_code == 409
    patched = api.patch(f"/api/v1/users/jdoe/devices/{device_id}", json={"name": "Mobile", "order": 3})
    assert patched.get_json()["name"] == "Mobile" and patched.get_json()["order"] == 3
    bad = api.patch(f"/api/v1/users/jdoe/devices/{device_id}", json={"target": "not a url"})
    assert bad.status_code == 400 and bad.get_json()["field"] == "target"
    assert api.delete(f"/api/v1/users/jdoe/devices/{device_id}").status_code == 204
    assert api.get("/api/v1/users/jdoe").get_json()["devices"] == []
    assert api.delete(f"/api/v1/users/jdoe/devices/{device_id}").status_code == 404


def test_it_does_not_touch_another_users_device(api):
    bob = make_user(api)
    make_user(api, {"username": "jdoe"})
    response = api.patch(f"/api/v1/users/jdoe/devices/{bob['devices'][0]['deviceId']}", json={"name": "Mine"})
    assert response.status_code == 404


def test_it_deletes_a_user_with_their_devices_and_memberships(api):
    make_user(api)
    make_user(api, {"username": "jdoe"})
    api.post("/api/v1/groups", json={"name": "Ops", "members": ["bsmith", "jdoe"]})
    assert api.delete("/api/v1/users/bsmith").status_code == 204
    assert api.get("/api/v1/users/bsmith").status_code == 404
    assert db.session.query(Device).count() == 0
    assert api.get("/api/v1/groups/Ops").get_json()["members"] == ["jdoe"]


def test_it_creates_changes_and_deletes_a_group(api):
    for name in ("bsmith", "jdoe", "akim"):
        make_user(api, {"username": name})
    created = api.post("/api/v1/groups", json={"name": "Database Team", "members": ["bsmith", "jdoe"],
                                               "mode": "escalate-in-order", "escalationDelayMinutes": 5,
                                               "description": "DBAs"})
    assert created.status_code == 201, created.get_json()
    group = created.get_json()
    assert group["members"] == ["bsmith", "jdoe"] and group["mode"] == "escalate-in-order"
    assert group["escalationDelayMinutes"] == 5 and group["description"] == "DBAs"
    assert api.get("/api/v1/groups/Database Team").get_json() == group
    patched = api.patch("/api/v1/groups/Database Team", json={"members": ["akim", "bsmith"],
                                                              "escalationDelayMinutes": 0.5})
    assert patched.get_json()["members"] == ["akim", "bsmith"]
    assert patched.get_json()["escalationDelayMinutes"] == 0.5
    assert db.session.query(GroupMember).count() == 2
    assert [g["name"] for g in api.get("/api/v1/groups").get_json()["items"]] == ["Database Team"]
    assert api.delete("/api/v1/groups/Database Team").status_code == 204
    assert api.get("/api/v1/groups/Database Team").status_code == 404


@pytest.mark.parametrize("body, field, status", [
    ({"name": "G", "members": ["nobody"]}, "members[0]", 400),
    ({"name": "G", "members": ["bsmith", "bsmith"]}, "members[1]", 400),
    ({"name": "G", "mode": "round-robin"}, "mode", 400),
    ({"name": "G", "escalationDelayMinutes": -1}, "escalationDelayMinutes", 400),
    ({"name": "G", "escalationDelayMinutes": "5"}, "escalationDelayMinutes", 400),
    ({"members": []}, "name", 400),
])
def test_it_rejects_a_bad_group_naming_the_field(api, body, field, status):
    make_user(api)
    response = api.post("/api/v1/groups", json=body)
    assert response.status_code == status and response.get_json()["field"] == field


def test_it_refuses_a_group_name_that_is_taken(api):
    api.post("/api/v1/groups", json={"name": "Ops"})
    assert api.post("/api/v1/groups", json={"name": "Ops"}).status_code == 409


def test_it_needs_a_token(client):
    assert client.get("/api/v1/users").status_code == 401
    assert client.post("/api/v1/groups", json={"name": "x"}).status_code == 401
