"""A group's on-call page (SPEC §9): week/month calendar, shift editor, overrides, feeds, "on call now".

The work is the REST API's: ``notifications.shifts`` validates and writes shifts, ``overrides``
adds and removes overrides, ``schedule``/``rota`` answer who is on call, ``calendar_feeds`` the URLs.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo, available_timezones

from flask import abort, flash, redirect, request, url_for
from flask_login import current_user

from alerting.errors import FieldError, NotFound
from alerting.notifications import calendar_feeds, overrides, rota, schedule, shifts
from blueprints.dashboard import bp, shift_form
from blueprints.dashboard.forms import admin_required, error_status, field_errors, is_htmx, render, save_form
from extensions import db
from models import Group, Override, User, utcnow

PAGE = "dashboard/oncall_group.html"
TIMEZONES = sorted(available_timezones())


def _now() -> datetime:
    return rota.aware(utcnow())


@bp.app_template_global()
def on_call_now(group: Group | str) -> str:
    """Who is first on call in the group (or the group of that name) right now, for lists: 'bsmith',
    'bsmith, oncall-a', 'nobody'."""
    if isinstance(group, str):
        found = db.session.query(Group).filter_by(name=group).first()
        if found is None:
            return "nobody"
        group = found
    data = rota.on_call_json(group, _now())
    firsts = [s["timeline"][0]["username"] for s in data["shifts"] if s["timeline"]]
    if not firsts and data["fallback"]:
        return "fallback " + ", ".join(data["fallback"][:3])
    return ", ".join(dict.fromkeys(firsts)) or "nobody"


def _day(raw: str | None, zone: ZoneInfo) -> date:
    try:
        return date.fromisoformat(raw or "")
    except ValueError:
        return _now().astimezone(zone).date()


def calendar(group: Group, view: str, raw_start: str | None) -> dict:
    """The week (days as rows) or month (a 7-column grid) around ``?start=``, each day's occurrences."""
    zone = ZoneInfo(group.timezone or "UTC")
    day = _day(raw_start, zone)
    if view == "month":
        first = day.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        grid_start = first - timedelta(days=first.weekday())
        days = (following - grid_start).days
        days += (7 - days % 7) % 7
        prev, nxt, anchor = (first - timedelta(days=1)).replace(day=1), following, first
    else:
        grid_start = day - timedelta(days=day.weekday())
        days, anchor = 7, grid_start
        prev, nxt = grid_start - timedelta(days=7), grid_start + timedelta(days=7)
    since = datetime.combine(grid_start, datetime.min.time(), zone)
    until = datetime.combine(grid_start + timedelta(days=days), datetime.min.time(), zone)
    by_day: dict[date, list[dict]] = {grid_start + timedelta(days=n): [] for n in range(days)}
    for item in schedule.occurrences(group, since, until):
        start = datetime.fromisoformat(item["start"].replace("Z", "+00:00")).astimezone(zone)
        end = datetime.fromisoformat(item["end"].replace("Z", "+00:00")).astimezone(zone)
        names = [e["username"] for e in item["timeline"]]
        by_day[max(start, since).date()].append({**item, "local_start": start, "local_end": end,
                                                 "first": names[0] if names else None, "names": names})
    today = _now().astimezone(zone).date()
    # switching week <-> month keeps today when it is shown, else the week's Thursday (the month holding most of it)
    switch = today if grid_start <= today < grid_start + timedelta(days=days) and \
        (view == "week" or today.month == anchor.month) else (anchor + timedelta(days=3) if view == "week" else anchor)
    return {"view": view, "anchor": anchor, "days": by_day, "prev": prev, "next": nxt, "switch": switch,
            "today": today, "month": anchor.month}


def _load(group_id: int) -> Group:
    return db.session.get(Group, group_id) or abort(404)


def page(group: Group, status=200, block=None, draft=None, shift_errors=None, override_values=None,
         override_errors=None, note=None):
    """The group page (or one of its blocks for HTMX)."""
    view = request.args.get("view") if request.args.get("view") in ("week", "month") else "week"
    users = db.session.query(User).order_by(User.username).all()
    others = db.session.query(Group).filter(Group.id != group.id).order_by(Group.name).all()
    listed = db.session.query(Override).filter(Override.group_id == group.id,
                                               Override.end_at > utcnow()).order_by(Override.start_at).all()
    return render(PAGE, block, status=status, group=group, cal=calendar(group, view, request.args.get("start")),
                  draft=draft or shifts.on_call_json(group), shift_errors=shift_errors or {},
                  errors_at=shift_form.errors_at, days=shift_form.DAYS, timezones=TIMEZONES, users=users,
                  other_groups=others, overrides=listed, override_values=override_values or _cover_values(),
                  override_errors=override_errors or {}, note=note, now_text=on_call_now(group),
                  group_feed=calendar_feeds.feed_url(group) if current_user.is_admin else None,
                  user_feed=calendar_feeds.feed_url(current_user._get_current_object()), tab="groups")


def _cover_values() -> dict:
    """"Cover for me" from a calendar occurrence: member = the signed-in user, window = the occurrence."""
    args = request.args
    return {"member": current_user.username, "start": args.get("cover_start", ""),
            "end": args.get("cover_end", ""), "shift": args.get("cover_shift", ""), "replacement": ""}


@bp.get("/people/groups/<int:group_id>/on-call")
def group_page(group_id):
    group = _load(group_id)
    response = page(group, block="calendar" if request.headers.get("HX-Target") == "calendar" else None)
    db.session.commit()  # a first look makes the feed nonces
    return response


@bp.post("/people/groups/<int:group_id>/shifts")
@admin_required
def save_shifts(group_id):
    group = _load(group_id)
    draft = shift_form.on_call_from_form(request.form)
    op = request.form.get("op", "")
    if op:
        shift_form.apply_op(draft, op, request.form)
        return page(group, block="editor", draft=draft)
    try:
        save_form(lambda data: shifts.apply_on_call(group, data), draft)
    except FieldError as exc:
        return page(_load(group_id), error_status(), "editor", draft, field_errors(exc))
    flash(f"Saved the shifts of {group.name}.", "success")
    if is_htmx():  # the calendar and the override form change too: load the whole page
        return "", 204, {"HX-Redirect": url_for("dashboard.group_page", group_id=group_id)}
    return redirect(url_for("dashboard.group_page", group_id=group_id))


def _instant(raw: str, zone: ZoneInfo) -> str:
    """A datetime-local value (wall clock in the group's zone) as an instant; other text goes on to the validator."""
    try:
        return datetime.fromisoformat(raw).replace(tzinfo=zone).isoformat()
    except ValueError:
        return raw


@bp.post("/people/groups/<int:group_id>/overrides")
def add_override(group_id):
    group = _load(group_id)
    zone = ZoneInfo(group.timezone or "UTC")
    form = request.form
    values = {k: form.get(k, "").strip() for k in ("start", "end", "member", "replacement", "shift")}
    if not current_user.is_admin and values["member"] != current_user.username:
        abort(403)  # a responder covers only their own place
    data = {"start": _instant(values["start"], zone), "end": _instant(values["end"], zone),
            "member": values["member"], "replacement": values["replacement"] or None,
            "shift": values["shift"] or None}
    try:
        save_form(lambda d: overrides.create_override(group, d, current_user.username), data,
                  {"start": "2000-01-01T00:00:00Z", "end": "2099-12-31T00:00:00Z", "member": current_user.username})
    except FieldError as exc:
        return page(_load(group_id), error_status(), None, override_values=values, override_errors=field_errors(exc))
    flash("Override added: " + (f"{values['replacement']} covers for {values['member']}." if values["replacement"]
                                else f"{values['member']} is skipped in that window."), "success")
    return redirect(url_for("dashboard.group_page", group_id=group_id) + "#overrides")


@bp.post("/people/groups/<int:group_id>/overrides/<int:override_id>/delete")
def delete_override(group_id, override_id):
    group = _load(group_id)
    try:
        override = overrides.get_override(group, override_id)
    except NotFound:
        abort(404)
    if not current_user.is_admin and override.created_by != current_user.username:
        abort(403)
    overrides.delete_override(override)
    db.session.commit()
    flash("Override removed.", "success")
    return redirect(url_for("dashboard.group_page", group_id=group_id) + "#overrides")


@bp.post("/people/groups/<int:group_id>/calendar/regenerate")
@admin_required
def regenerate_group_feed(group_id):
    calendar_feeds.feed_url(_load(group_id), regenerate=True)
    db.session.commit()
    flash("New feed URL for the group: the old one no longer works.", "success")
    return redirect(url_for("dashboard.group_page", group_id=group_id) + "#feeds")


@bp.post("/people/groups/<int:group_id>/my-calendar/regenerate")
def regenerate_user_feed(group_id):
    calendar_feeds.feed_url(current_user._get_current_object(), regenerate=True)
    db.session.commit()
    flash("New feed URL for your shifts: the old one no longer works.", "success")
    return redirect(url_for("dashboard.group_page", group_id=group_id) + "#feeds")
