"""/api/v1/users (with devices) and /api/v1/groups: list, create, get, change, remove."""
from flask import jsonify

from alerting import people
from blueprints.api import actor, body, bp, page
from extensions import db
from models import Group, User


@bp.get("/users")
def list_users():
    """Users, newest first, with their devices."""
    return page(db.session.query(User), User.id, people.user_to_json)


@bp.post("/users")
def create_user():
    """Create a user with devices: {"username", "name", "role", "devices": [{name, kind, target}]}."""
    user = people.create_user(body())
    db.session.commit()
    return jsonify(people.user_to_json(user)), 201


@bp.get("/users/<username>")
def get_user(username):
    return jsonify(people.user_to_json(people.get_user(username)))


@bp.patch("/users/<username>")
def update_user(username):
    """Change a user; a `devices` list replaces theirs (entries with `deviceId` keep that device)."""
    user = people.update_user(people.get_user(username, lock=True), body())
    db.session.commit()
    return jsonify(people.user_to_json(user))


@bp.delete("/users/<username>")
def delete_user(username):
    people.delete_user(people.get_user(username))
    db.session.commit()
    return "", 204


@bp.post("/users/<username>/devices")
def add_device(username):
    """Add a device: {"name", "kind": "email"|"webhook"|"apprise", "target", "enabled", "order"}."""
    device = people.add_device(people.get_user(username, lock=True), body())
    db.session.commit()
    return jsonify(people.device_to_json(device)), 201


@bp.patch("/users/<username>/devices/<int:device_id>")
def update_device(username, device_id):
    user = people.get_user(username, lock=True)
    device = people.update_device(people.get_device(user, device_id), body())
    db.session.commit()
    return jsonify(people.device_to_json(device))


@bp.delete("/users/<username>/devices/<int:device_id>")
def delete_device(username, device_id):
    user = people.get_user(username, lock=True)
    people.delete_device(people.get_device(user, device_id))
    db.session.commit()
    return "", 204


@bp.post("/users/<username>/devices/<int:device_id>/test")
def test_device(username, device_id):
    """Send a test message to one device now; {"ok": true|false, "result": <what the transport said>}."""
    device = people.get_device(people.get_user(username), device_id)
    ok, result = people.send_test_message(device, actor=actor())
    return jsonify({"ok": ok, "result": result})


@bp.get("/groups")
def list_groups():
    return page(db.session.query(Group), Group.id, people.group_to_json)


@bp.post("/groups")
def create_group():
    """Create a group: {"name", "members": [usernames in order], "mode", "escalationDelayMinutes"}."""
    group = people.create_group(body())
    db.session.commit()
    return jsonify(people.group_to_json(group)), 201


@bp.get("/groups/<path:name>")
def get_group(name):
    return jsonify(people.group_to_json(people.get_group(name)))


@bp.patch("/groups/<path:name>")
def update_group(name):
    """Change a group; `members`, when given, replaces the ordered list."""
    group = people.update_group(people.get_group(name, lock=True), body())
    db.session.commit()
    return jsonify(people.group_to_json(group))


@bp.delete("/groups/<path:name>")
def delete_group(name):
    people.delete_group(people.get_group(name))
    db.session.commit()
    return "", 204
