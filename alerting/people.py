"""Users with their devices, and groups: create, change, remove and show them as JSON (SPEC §1, §7)."""
from __future__ import annotations

import re

from flask import current_app
from sqlalchemy.exc import IntegrityError

from alerting import validation as v
from alerting.errors import Checks, Conflict, FieldError, NotFound
from alerting.ids import owned_row, row_id
from alerting.notifications import dispatch
from alerting.notifications.shifts import ON_CALL_FIELDS, apply_on_call, on_call_json
from alerting.notifications.transports import validate_target
from extensions import db
from models import DEVICE_KINDS, GROUP_MODES, ROLES, Device, Group, GroupMember, User, iso

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
USER_FIELDS = {"username", "name", "role", "devices", "password", "active"}
DEVICE_FIELDS = {"deviceId", "name", "kind", "target", "enabled", "order"}
GROUP_FIELDS = {"name", "members", "mode", "escalationDelayMinutes", "description"} | ON_CALL_FIELDS


def _no_unknown(data: dict, allowed: set, where: str = "") -> None:
    for key in data:
        if key not in allowed:
            raise FieldError(f"{where}{key}", "is not a known field (use " + ", ".join(sorted(allowed)) + ")")


def get_user(username: str, lock: bool = False) -> User:
    """The user with this username, or NotFound; ``lock`` holds their row until the commit.

    Whoever changes a user's devices locks the user first, so concurrent edits run one after the other.
    """
    query = db.session.query(User).filter_by(username=username)
    user = (query.with_for_update() if lock else query).first()
    if user is None:
        raise NotFound(f"No user {username!r}.")
    return user


def get_group(name: str, lock: bool = False) -> Group:
    """The group with this name (or numeric id), or NotFound; ``lock`` holds its row until the commit."""
    query = db.session.query(Group)
    query = query.with_for_update() if lock else query
    group = query.filter_by(name=name).first()
    if group is None and row_id(name) is not None:
        group = query.filter_by(id=row_id(name)).first()
    if group is None:
        raise NotFound(f"No group {name!r}.")
    return group


def get_device(user: User, device_id: int) -> Device:
    """The user's device with this deviceId, or NotFound (another user's device is not found either)."""
    return owned_row(Device, device_id, f"User {user.username!r} has no device {device_id}.", user_id=user.id)


def _username(value) -> str:
    name = v.text(value, "username", max_len=64, required=True)
    if not USERNAME.match(name):
        raise FieldError("username", "use lower-case letters, digits, dot, dash or underscore (e.g. bsmith)")
    return name


def _role(value, default):
    if value is None:
        return default
    if value not in ROLES:
        raise FieldError("role", "must be one of " + ", ".join(ROLES))
    return value


def _device_target(kind: str, target, field: str, saved: tuple) -> str:
    """The checked target; the SSRF check runs only when (kind, target) differs from ``saved``."""
    target = v.text(target, field, max_len=2000, required=True)
    try:
        allow = None if saved == (kind, target) else current_app.config["KLAXON"].webhook_allow_cidrs
        validate_target(kind, target, allow_cidrs=allow)
        return target
    except ValueError as exc:
        message = getattr(exc, "message", None) or str(exc)
        raise FieldError(field, message.removeprefix("target: ")) from None


def _apply_device(device: Device, data, where: str, position: int | None) -> Device:
    """Set a device's fields from camelCase JSON; ``where`` prefixes field names in errors.

    ``position`` is the order to use when ``order`` is not given (None keeps the current one).
    """
    if not isinstance(data, dict):
        raise FieldError(where.rstrip("."), "must be an object with name, kind and target")
    _no_unknown(data, DEVICE_FIELDS, where)
    creating = device.id is None and not device.kind
    saved = (device.kind, device.target)
    checks = Checks()  # name, kind and target are checked apart, so a form shows every error at once
    if creating or "name" in data:
        device.name = checks.run(v.text, data.get("name"), f"{where}name", max_len=100, required=True)
    if creating or "kind" in data:
        device.kind = checks.run(_device_kind, data.get("kind"), f"{where}kind")
    if (creating or "target" in data or "kind" in data) and device.kind:
        device.target = checks.run(_device_target, device.kind, data.get("target", device.target),
                                   f"{where}target", saved)
    checks.done()
    device.enabled = v.boolean(data.get("enabled"), f"{where}enabled",
                               default=True if device.enabled is None else device.enabled)
    device.position = v.integer(data.get("order"), f"{where}order", minimum=0,
                                default=device.position if position is None else position)
    return device


def _device_kind(kind, field: str) -> str:
    if kind not in DEVICE_KINDS:
        raise FieldError(field, "must be one of " + ", ".join(DEVICE_KINDS))
    return kind


def _set_devices(user: User, items) -> None:
    """Make the user's devices exactly ``items``; a ``deviceId`` keeps (and changes) that device."""
    if not isinstance(items, list):
        raise FieldError("devices", "must be a list of {name, kind, target}")
    existing = {d.id: d for d in user.devices}
    kept, names = [], set()
    for i, item in enumerate(items):
        where = f"devices[{i}]."
        device_id = item.get("deviceId") if isinstance(item, dict) else None
        if device_id is not None and device_id not in existing:
            raise FieldError(f"{where}deviceId", f"user {user.username!r} has no device {device_id}")
        device = existing.pop(device_id, None) if device_id is not None else None
        if device is None and isinstance(item, dict):
            # same name as a device not otherwise listed: keep that row (names are unique per user)
            device = next((d for d in existing.values() if isinstance(item.get("name"), str)
                           and d.name.lower() == item["name"].strip().lower()), None)
            existing.pop(getattr(device, "id", None), None)
        device = device or Device(enabled=None)
        _apply_device(device, item, where, i)
        if device.name.lower() in names:
            raise FieldError(f"{where}name", f"{device.name!r} is listed twice")
        names.add(device.name.lower())
        kept.append(device)
    user.devices = kept


def create_user(data: dict) -> User:
    """A new user (with devices) from SPEC §7 JSON; the caller commits."""
    _no_unknown(data, USER_FIELDS)
    username = _username(data.get("username"))
    if db.session.query(User.id).filter_by(username=username).first():
        raise Conflict(f"username: {username!r} is already taken.")
    user = User(username=username, name=v.text(data.get("name"), "name", max_len=200),
                role=_role(data.get("role"), "responder"), active=v.boolean(data.get("active"), "active", True))
    _set_password(user, data.get("password"))
    _set_devices(user, data.get("devices") or [])
    insert_once(user, f"username: {username!r} is already taken.")
    return user


def insert_once(row, taken: str) -> None:
    """Add a new row in a savepoint; if a concurrent request got its unique name first, Conflict(taken)."""
    try:
        with db.session.begin_nested():
            db.session.add(row)
    except IntegrityError:
        raise Conflict(taken) from None


def update_user(user: User, data: dict) -> User:
    """Change the fields given; ``devices``, when given, replaces the list (``deviceId`` keeps one)."""
    _no_unknown(data, USER_FIELDS)
    if "username" in data and data["username"] != user.username:
        raise FieldError("username", "cannot be changed (responses and history refer to it)")
    if "name" in data:
        user.name = v.text(data["name"], "name", max_len=200)
    user.role = _role(data.get("role"), user.role)
    user.active = v.boolean(data.get("active"), "active", user.active)
    _set_password(user, data.get("password"))
    if "devices" in data:
        _set_devices(user, data["devices"])
    db.session.flush()
    return user


def _set_password(user: User, password) -> None:
    if password is None:
        return
    password = v.text(password, "password", max_len=200)
    if len(password) < 8:
        raise FieldError("password", "must be at least 8 characters")
    user.set_password(password)


def delete_user(user: User) -> None:
    """Remove the user, their devices and group memberships (notifications keep their names)."""
    db.session.delete(user)
    db.session.flush()


def add_device(user: User, data: dict) -> Device:
    """Add one device to the user (last in order unless ``order`` is given)."""
    device = Device(enabled=None)
    _apply_device(device, data, "", len(user.devices))
    if any(d.name.lower() == device.name.lower() for d in user.devices):
        raise Conflict(f"name: {user.username!r} already has a device named {device.name!r}.")
    user.devices.append(device)
    db.session.flush()
    return device


def update_device(device: Device, data: dict) -> Device:
    """Change the fields given of one device."""
    _apply_device(device, data, "", None)
    clash = db.session.query(Device.id).filter(Device.user_id == device.user_id, Device.id != device.id,
                                                db.func.lower(Device.name) == device.name.lower()).first()
    if clash:
        raise Conflict(f"name: this user already has a device named {device.name!r}.")
    db.session.flush()
    return device


def delete_device(device: Device) -> None:
    """Remove one device (its past notifications keep the device name)."""
    db.session.delete(device)
    db.session.flush()


def send_test_message(device: Device, actor: str | None = None) -> tuple[bool, str]:
    """Send a test message to one device now, with no alert behind it; (ok, what happened)."""
    return dispatch.send_test_message(device, actor)


def _members(value) -> list[User]:
    if not isinstance(value, list):
        raise FieldError("members", "must be a list of usernames")
    names = [v.text(item, f"members[{i}]", max_len=64, required=True) for i, item in enumerate(value)]
    found = {u.username: u for u in db.session.query(User).filter(User.username.in_(names))} if names else {}
    for i, name in enumerate(names):
        if name not in found:
            raise FieldError(f"members[{i}]", f"no user named {name!r}")
        if name in names[:i]:
            raise FieldError(f"members[{i}]", f"{name!r} is listed twice")
    return [found[n] for n in names]


def _delay(value, default):
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FieldError("escalationDelayMinutes", "must be a number of minutes")
    if value < 0 or value > 7 * 24 * 60:
        raise FieldError("escalationDelayMinutes", "must be from 0 to 10080 (a week)")
    return float(value)


def _apply_group(group: Group, data: dict) -> Group:
    _no_unknown(data, GROUP_FIELDS)
    if "name" in data or group.name is None:
        name = v.text(data.get("name"), "name", max_len=100, required=True)
        clash = db.session.query(Group.id).filter(Group.name == name, Group.id != group.id).first() \
            if group.id else db.session.query(Group.id).filter_by(name=name).first()
        if clash:
            raise Conflict(f"name: a group named {name!r} already exists.")
        group.name = name
    if "description" in data:
        group.description = v.text(data["description"], "description", max_len=2000)
    mode = data.get("mode")
    if mode is not None and mode not in GROUP_MODES:
        raise FieldError("mode", "must be one of " + ", ".join(GROUP_MODES))
    group.mode = mode or group.mode or "all-at-once"
    group.escalation_delay_minutes = _delay(data.get("escalationDelayMinutes"),
                                            5.0 if group.escalation_delay_minutes is None
                                            else group.escalation_delay_minutes)
    if "members" in data:
        users = _members(data["members"])
        # keep the rows of members who stay: a delete and insert of the same (group, user) would clash
        current = {m.user_id: m for m in group.members}
        group.members = [_member(current.get(u.id), u, i) for i, u in enumerate(users)]
    apply_on_call(group, data)
    return group


def _member(member: GroupMember | None, user: User, position: int) -> GroupMember:
    member = member or GroupMember(user=user)
    member.position = position
    return member


def create_group(data: dict) -> Group:
    """A new group from SPEC §7 JSON; the caller commits."""
    group = Group(description="")
    _apply_group(group, data)
    insert_once(group, f"name: a group named {group.name!r} already exists.")
    return group


def update_group(group: Group, data: dict) -> Group:
    """Change the fields given; ``members``, when given, replaces the ordered list."""
    _apply_group(group, data)
    db.session.flush()
    return group


def delete_group(group: Group) -> None:
    """Remove a group; alerts already sent to it keep their notifications."""
    db.session.delete(group)
    db.session.flush()


def device_to_json(device: Device) -> dict:
    """A device as the REST API shows it (SPEC §7)."""
    return {"deviceId": device.id, "name": device.name, "kind": device.kind, "target": device.target,
            "enabled": device.enabled, "order": device.position}


def user_to_json(user: User) -> dict:
    """A user with their devices in order, as the REST API shows it (SPEC §7)."""
    return {"username": user.username, "name": user.name, "role": user.role, "active": user.active,
            "devices": [device_to_json(d) for d in sorted(user.devices, key=lambda d: (d.position, d.id or 0))],
            "createdAt": iso(user.created_at)}


def group_to_json(group: Group) -> dict:
    """A group with its members' usernames in order, as the REST API shows it (SPEC §7)."""
    return {"id": group.id, "name": group.name, "description": group.description, "mode": group.mode,
            "escalationDelayMinutes": group.escalation_delay_minutes,
            "members": [m.user.username for m in group.members], **on_call_json(group),
            "createdAt": iso(group.created_at)}
