"""People: users with their devices, and groups with ordered members (alerting/people.py does the work)."""
from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user

from alerting import people as directory
from alerting.errors import FieldError, NotFound
from blueprints.dashboard import bp
from blueprints.dashboard.forms import (
    admin_required,
    error_status,
    field_errors,
    is_htmx,
    pending_flashes,
    render,
    save_form,
)
from extensions import db
from models import DEVICE_KINDS, GROUP_MODES, ROLES, Group, User

USERS = "dashboard/people.html"
GROUPS = "dashboard/groups.html"
TARGET_HINTS = {"email": "name@example.com", "webhook": "https://ops.example.com/page",
                "apprise": "ntfy://ntfy.sh/my-topic or slack://…"}


# Stands in for a refused username or name while the other fields are checked (never saved).
PLACEHOLDER = "form-check-placeholder"


@bp.app_template_filter("errors_under")
def errors_under(errors: dict[str, str], field: str) -> list[str]:
    """The messages for ``field`` and its entries (``members`` shows ``members[1]``'s error too)."""
    return [m for k, m in errors.items() if k == field or k.startswith((field + "[", field + "."))]


@bp.app_template_global()
def named_in(recipient_type: str, name: str) -> str:
    """For a delete's confirm: ' Still a recipient of: A, B.' when configurations name this user
    or group (they stay named there: new alerts report them unresolved until removed)."""
    from models import Configuration

    found = [c.name for c in db.session.query(Configuration).order_by(Configuration.name)
             if {"id": name, "recipientType": recipient_type} in [
                 {"id": r.get("id"), "recipientType": r.get("recipientType")} for r in c.recipients or []]]
    return f" Still a recipient of: {', '.join(found)}." if found else ""


def load(getter, *args):
    try:
        return getter(*args)
    except NotFound:
        abort(404)


def user_device(username: str, device_id: int):
    """(user, their device) named by the URL, or 404."""
    user = load(directory.get_user, username)
    return user, load(directory.get_device, user, device_id)


def users_page(status=200, errors=None, values=None, device_for=None, device_errors=None, device_values=None):
    """The people page; ``device_for`` names the user whose add-device form shows ``device_errors``."""
    users = db.session.query(User).order_by(User.username).all()
    return render(USERS, None, status=status, users=users, roles=ROLES,
                  kinds=DEVICE_KINDS, hints=TARGET_HINTS, errors=errors or {}, values=values or {},
                  device_for=device_for, device_errors=device_errors or {}, device_values=device_values or {},
                  tab="users")


def user_card(user: User, status=200, errors=None, values=None):
    return render(USERS, "user_card", status=status, user=user, kinds=DEVICE_KINDS, hints=TARGET_HINTS,
                  device_for=user.username, device_errors=errors or {}, device_values=values or {})


def after_change(user: User, message: str, category: str = "success"):
    """``message`` in the page's message area: with the user's fresh card for HTMX, else on the people page."""
    flash(message, category)
    if is_htmx():
        return user_card(user)
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
        user = save_form(directory.create_user, data, {"username": PLACEHOLDER})
    except FieldError as exc:
        return users_page(422, field_errors(exc), {**data, "username": form.get("username", "")})
    flash(f"Added {user.username}. Give them a device so alerts can reach them.", "success")
    return redirect(url_for("dashboard.people") + f"#user-{user.username}")


@bp.post("/people/users/<username>/devices")
@admin_required
def add_device(username):
    user = load(directory.get_user, username)
    data = {"name": request.form.get("name", ""), "kind": request.form.get("kind", ""),
            "target": request.form.get("target", "")}
    try:
        device = save_form(lambda d: directory.add_device(user, d), data, {"name": PLACEHOLDER})
    except FieldError as exc:
        if not is_htmx():  # without JavaScript: the people page, this user's form showing the errors
            return users_page(422, device_for=username, device_errors=field_errors(exc), device_values=data)
        return user_card(load(directory.get_user, username), error_status(), field_errors(exc), data)
    return after_change(user, f"Added device {device.name}.")


@bp.post("/people/users/<username>/devices/<int:device_id>/enabled")
@admin_required
def toggle_device(username, device_id):
    user, device = user_device(username, device_id)
    directory.update_device(device, {"enabled": not device.enabled})
    db.session.commit()
    return after_change(user, f"{device.name} {'enabled' if device.enabled else 'disabled'}.")


@bp.post("/people/users/<username>/devices/<int:device_id>/test")
@admin_required
def test_device(username, device_id):
    user, device = user_device(username, device_id)
    ok, result = directory.send_test_message(device, actor=current_user.username)
    db.session.commit()
    note = f"Test to {device.name}: {'sent' if ok else 'failed'}" + (f" ({result})" if result else "")
    return after_change(user, note, "success" if ok else "error")


def deleted(message: str, page: str):
    """After a delete: the message in the page's message area; for HTMX the card goes (an empty swap)."""
    flash(message, "success")
    if is_htmx():
        return pending_flashes()
    return redirect(url_for(page))


@bp.app_template_global()
def delete_question(thing) -> str:
    """What a delete asks first, and what stays of the thing afterwards."""
    if isinstance(thing, User):
        return f"Delete {thing.username} and their devices? Past alerts keep their name." + \
            named_in("PERSON", thing.username)
    if isinstance(thing, Group):
        return f"Delete the group {thing.name}? Alerts already sent keep their notifications." + \
            named_in("GROUP", thing.name)
    return f"Delete the device {thing.name}? Past notifications keep its name."


def confirm_page(thing, back: str):
    """Without JavaScript a delete button opens this page (GET) to ask; its button POSTs the delete."""
    return render("dashboard/confirm.html", None, question=delete_question(thing), back=back)


@bp.route("/people/users/<username>/delete", methods=("GET", "POST"))
@admin_required
def delete_user(username):
    user = load(directory.get_user, username)
    if request.method == "GET":
        return confirm_page(user, url_for("dashboard.people") + f"#user-{username}")
    if user.id == current_user.id:
        return after_change(user, "You cannot delete yourself while signed in.", "error")
    directory.delete_user(user)
    db.session.commit()
    return deleted(f"Deleted user {username}.", "dashboard.people")


@bp.route("/people/users/<username>/devices/<int:device_id>/delete", methods=("GET", "POST"))
@admin_required
def delete_device(username, device_id):
    user, device = user_device(username, device_id)
    if request.method == "GET":
        return confirm_page(device, url_for("dashboard.people") + f"#user-{username}")
    name = device.name
    directory.delete_device(device)
    db.session.commit()
    db.session.refresh(user)
    return after_change(user, f"Deleted device {name}.")


@bp.route("/people/groups/<int:group_id>/delete", methods=("GET", "POST"))
@admin_required
def delete_group(group_id):
    group = db.session.get(Group, group_id) or abort(404)
    if request.method == "GET":
        return confirm_page(group, url_for("dashboard.people_groups") + f"#group-{group_id}")
    name = group.name
    directory.delete_group(group)
    db.session.commit()
    return deleted(f"Deleted group {name}.", "dashboard.people_groups")


def groups_page(status=200, errors=None, values=None, error_group=None, group_errors=None, group_values=None):
    """The groups page; ``error_group`` is the id of the group whose card shows ``group_errors``."""
    groups = db.session.query(Group).order_by(Group.name).all()
    users = db.session.query(User).order_by(User.username).all()
    return render(GROUPS, None, status=status, groups=groups, users=users,
                  modes=GROUP_MODES, errors=errors or {}, values=values or {}, tab="groups",
                  error_group=error_group, group_errors=group_errors or {}, group_values=group_values or {})


def group_card(group: Group, status=200, errors=None, values=None, note=None):
    users = db.session.query(User).order_by(User.username).all()
    return render(GROUPS, "group_card", status=status, group=group, users=users, modes=GROUP_MODES,
                  error_group=group.id, group_errors=errors or {}, group_values=values or {}, note=note)


def delay_value(raw: str):
    """Minutes as a number where the text is one; anything else goes to the shared validator."""
    try:
        return float(raw)
    except (TypeError, ValueError):
        return raw


@bp.route("/people/groups", methods=("GET", "POST"))
@admin_required
def people_groups():
    """The groups page; its POST is the "Add a group" form."""
    if request.method == "GET":
        return groups_page()
    form = request.form
    data = {"name": form.get("name", ""), "mode": form.get("mode") or "all-at-once",
            "escalationDelayMinutes": delay_value(form.get("escalationDelayMinutes", "5")),
            "members": [m for m in form.getlist("members") if m]}
    try:
        group = save_form(directory.create_group, data, {"name": PLACEHOLDER})
    except FieldError as exc:
        return groups_page(422, field_errors(exc), data)
    flash(f"Added group {group.name}.", "success")
    return redirect(url_for("dashboard.people_groups"))


def member_change(usernames: list[str], form) -> list[str]:
    """The member list after one move or removal, or the additions (ticked in the picker), asked by the form."""
    names = list(usernames)
    op, who = form.get("op", ""), form.get("username", "")
    if op == "add":
        names += [name for name in dict.fromkeys(form.getlist("username")) if name and name not in names]
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
    op = form.get("op", "")
    if op == "add" and not [name for name in form.getlist("username") if name]:
        nobody = {"members": "Tick at least one person to add."}
        return group_card(group, error_status(), nobody) if is_htmx() \
            else groups_page(422, error_group=group_id, group_errors=nobody)
    before = [m.user.username for m in group.members]
    if op:
        data = {"members": member_change(before, form)}
    else:
        data = {"mode": form.get("mode"), "escalationDelayMinutes": delay_value(form.get("escalationDelayMinutes"))}
    values = {"mode": form.get("mode"), "escalationDelayMinutes": form.get("escalationDelayMinutes", "")}
    try:
        save_form(lambda d: directory.update_group(group, d), data)
    except FieldError as exc:
        if not is_htmx():  # without JavaScript: the groups page, this group's card showing the errors
            return groups_page(422, error_group=group_id, group_errors=field_errors(exc), group_values=values)
        return group_card(db.session.get(Group, group_id), error_status(), field_errors(exc), values)
    if op == "add":
        added = [name for name in data["members"] if name not in before]
        flash(f"Added {', '.join(added)} to {group.name}.", "success")
    else:
        flash(f"Saved group {group.name}.", "success")
    if is_htmx():
        return group_card(group)
    return redirect(url_for("dashboard.people_groups") + f"#group-{group.id}")
