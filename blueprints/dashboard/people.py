"""People: users with their devices, and groups with ordered members (alerting/people.py does the work)."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user

from alerting import people as directory
from alerting.errors import Conflict, FieldError, NotFound
from blueprints.dashboard import bp
from blueprints.dashboard.forms import admin_required, error_status, field_errors, is_htmx, render
from extensions import db
from models import DEVICE_KINDS, GROUP_MODES, ROLES, Group, User

USERS = "dashboard/people.html"
GROUPS = "dashboard/groups.html"
TARGET_HINTS = {"email": "name@example.com", "webhook": "https://ops.example.com/page",
                "apprise": "ntfy://ntfy.sh/my-topic or slack://…"}


def problem(exc: Exception) -> dict[str, str]:
    """FieldError or Conflict ('field: message') as {field: message}."""
    if isinstance(exc, FieldError):
        return field_errors(exc)
    field, _sep, message = str(exc).partition(": ")
    return {field: message[:1].upper() + message[1:]} if message else {"form": str(exc)}


def load(getter, *args):
    try:
        return getter(*args)
    except NotFound:
        abort(404)


def users_page(status=200, errors=None, values=None):
    users = db.session.query(User).order_by(User.username).all()
    return render(USERS, None, status=status, users=users, roles=ROLES,
                  kinds=DEVICE_KINDS, hints=TARGET_HINTS, errors=errors or {}, values=values or {},
                  device_errors={}, device_values={}, tab="users")


def user_card(user: User, status=200, errors=None, values=None, note=None):
    return render(USERS, "user_card", status=status, user=user, kinds=DEVICE_KINDS, hints=TARGET_HINTS,
                  device_errors=errors or {}, device_values=values or {}, note=note)


def after_change(user: User, message: str, category: str = "success"):
    """The user's card with ``message`` for HTMX; without JavaScript, the message on the people page."""
    if is_htmx():
        return user_card(user, note=message)
    flash(message, category)
    return redirect(url_for("dashboard.people") + f"#user-{user.username}")


@bp.get("/people")
@admin_required
def people():
    return users_page()


@bp.post("/people/users")
@admin_required
def add_user():
    form = request.form
    data = {"username": form.get("username", "").strip().lower(), "name": form.get("name", ""),
            "role": form.get("role", "responder")}
    if form.get("password"):
        data["password"] = form["password"]
    try:
        user = directory.create_user(data)
        db.session.commit()
    except (FieldError, Conflict) as exc:
        db.session.rollback()
        return users_page(422, problem(exc), data)
    flash(f"Added {user.username}. Give them a device so alerts can reach them.", "success")
    return redirect(url_for("dashboard.people") + f"#user-{user.username}")


@bp.post("/people/users/<username>/devices")
@admin_required
def add_device(username):
    user = load(directory.get_user, username)
    data = {"name": request.form.get("name", ""), "kind": request.form.get("kind", ""),
            "target": request.form.get("target", "")}
    try:
        device = directory.add_device(user, data)
        db.session.commit()
    except (FieldError, Conflict) as exc:
        db.session.rollback()
        if not is_htmx():  # without JavaScript the card is not a page of its own: say it on the people page
            flash(f"Device not added: {exc}", "error")
            return redirect(url_for("dashboard.people") + f"#user-{username}")
        return user_card(load(directory.get_user, username), error_status(), problem(exc), data)
    return after_change(user, f"Added device {device.name}.")


@bp.post("/people/users/<username>/devices/<int:device_id>/enabled")
@admin_required
def toggle_device(username, device_id):
    user = load(directory.get_user, username)
    device = load(directory.get_device, user, device_id)
    directory.update_device(device, {"enabled": not device.enabled})
    db.session.commit()
    return after_change(user, f"{device.name} {'enabled' if device.enabled else 'disabled'}.")


@bp.post("/people/users/<username>/devices/<int:device_id>/test")
@admin_required
def test_device(username, device_id):
    user = load(directory.get_user, username)
    device = load(directory.get_device, user, device_id)
    ok, result = directory.send_test_message(device, actor=current_user.username)
    db.session.commit()
    note = f"Test to {device.name}: {'sent' if ok else 'failed'}" + (f" ({result})" if result else "")
    return after_change(user, note, "success" if ok else "error")


def groups_page(status=200, errors=None, values=None):
    groups = db.session.query(Group).order_by(Group.name).all()
    users = db.session.query(User).order_by(User.username).all()
    return render(GROUPS, None, status=status, groups=groups, users=users,
                  modes=GROUP_MODES, errors=errors or {}, values=values or {}, tab="groups")


def group_card(group: Group, status=200, errors=None, note=None):
    users = db.session.query(User).order_by(User.username).all()
    return render(GROUPS, "group_card", status=status, group=group, users=users, modes=GROUP_MODES,
                  group_errors=errors or {}, note=note)


def delay_value(raw: str):
    """Minutes as a number where the text is one; anything else goes to the shared validator."""
    try:
        return float(raw)
    except (TypeError, ValueError):
        return raw


@bp.get("/people/groups")
@admin_required
def people_groups():
    return groups_page()


@bp.post("/people/groups")
@admin_required
def add_group():
    form = request.form
    data = {"name": form.get("name", ""), "mode": form.get("mode") or "all-at-once",
            "escalationDelayMinutes": delay_value(form.get("escalationDelayMinutes", "5")),
            "members": [m for m in form.getlist("members") if m]}
    try:
        group = directory.create_group(data)
        db.session.commit()
    except (FieldError, Conflict) as exc:
        db.session.rollback()
        return groups_page(422, problem(exc), data)
    flash(f"Added group {group.name}.", "success")
    return redirect(url_for("dashboard.people_groups"))


def member_change(usernames: list[str], form) -> list[str]:
    """The member list after one move, removal or addition asked by the form."""
    names = list(usernames)
    op, who = form.get("op", ""), form.get("username", "")
    if op == "add" and who and who not in names:
        names.append(who)
    elif who in names:
        i = names.index(who)
        if op == "remove":
            names.pop(i)
        elif op in ("up", "down"):
            j = i - 1 if op == "up" else i + 1
            if 0 <= j < len(names):
                names[i], names[j] = names[j], names[i]
    return names


@bp.post("/people/groups/<int:group_id>")
@admin_required
def update_group(group_id):
    group = db.session.get(Group, group_id) or abort(404)
    form = request.form
    if "op" in form:
        data = {"members": member_change([m.user.username for m in group.members], form)}
    else:
        data = {"mode": form.get("mode"), "escalationDelayMinutes": delay_value(form.get("escalationDelayMinutes"))}
    try:
        directory.update_group(group, data)
        db.session.commit()
    except (FieldError, Conflict) as exc:
        db.session.rollback()
        if not is_htmx():  # without JavaScript the card is not a page of its own: say it on the groups page
            flash(f"Group not saved: {exc}", "error")
            return redirect(url_for("dashboard.people_groups") + f"#group-{group_id}")
        return group_card(db.session.get(Group, group_id), error_status(), problem(exc))
    if is_htmx():
        return group_card(group, note="Saved.")
    flash(f"Saved group {group.name}.", "success")
    return redirect(url_for("dashboard.people_groups") + f"#group-{group.id}")
