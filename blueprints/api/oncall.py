"""/api/v1 on-call (SPEC §9): overrides, who is on call, a group's schedule, a user's shifts, feed URLs."""
from __future__ import annotations

from datetime import timedelta

from flask import jsonify, request

from alerting import people
from alerting.notifications import calendar_feeds, overrides, rota, schedule
from blueprints.api import actor, body, bp, page
from extensions import db
from models import Override, utcnow

USER_WINDOW = timedelta(days=28)


def _now():
    return rota.aware(utcnow())


@bp.get("/groups/<path:name>/overrides")
def list_overrides(name):
    """The group's overrides, newest first: {"items": [{"id", "start", "end", "member", "replacement", "shift"}]}."""
    group = people.get_group(name)
    return page(db.session.query(Override).filter_by(group_id=group.id), Override.id, overrides.override_to_json)


@bp.post("/groups/<path:name>/overrides")
def create_override(name):
    """Add an override: {"start", "end", "member", "replacement": <username or null>, "shift": <name or null>}."""
    override = overrides.create_override(people.get_group(name), body(), actor())
    db.session.commit()
    return jsonify(overrides.override_to_json(override)), 201


@bp.delete("/groups/<path:name>/overrides/<int:override_id>")
def delete_override(name, override_id):
    overrides.delete_override(overrides.get_override(people.get_group(name), override_id))
    db.session.commit()
    return "", 204


@bp.get("/groups/<path:name>/on-call")
def group_on_call(name):
    """Who is on call at ?at=<ISO instant> (default now): active shifts with their timelines, and the fallback."""
    group = people.get_group(name)
    return jsonify(rota.on_call_json(group, schedule.parse_instant(request.args.get("at"), "at", _now())))


@bp.get("/groups/<path:name>/schedule")
def group_schedule(name):
    """The group's occurrences in ?from=&to= (default: the next 7 days) with their computed timelines."""
    group = people.get_group(name)
    since = schedule.parse_instant(request.args.get("from"), "from", _now())
    until = schedule.parse_instant(request.args.get("to"), "to", since + timedelta(days=7))
    return jsonify(schedule.schedule_json(group, since, until))


@bp.get("/users/<username>/on-call")
def user_on_call(username):
    """The user's coming shifts in ?from=&to= (default: the next 28 days)."""
    user = people.get_user(username)
    since = schedule.parse_instant(request.args.get("from"), "from", _now())
    until = schedule.parse_instant(request.args.get("to"), "to", since + USER_WINDOW)
    return jsonify(schedule.user_on_call_json(user, since, until))


@bp.get("/groups/<path:name>/calendar")
def group_calendar(name):
    """The group's iCalendar feed URL: {"url"} (readable without a session; regenerate to revoke it)."""
    return _feed_url(people.get_group(name))


@bp.post("/groups/<path:name>/calendar/regenerate")
def regenerate_group_calendar(name):
    """A new feed URL for the group; the old one stops working."""
    return _feed_url(people.get_group(name), regenerate=True)


@bp.get("/users/<username>/calendar")
def user_calendar(username):
    """The user's iCalendar feed URL of their shifts: {"url"}."""
    return _feed_url(people.get_user(username))


@bp.post("/users/<username>/calendar/regenerate")
def regenerate_user_calendar(username):
    """A new feed URL for the user; the old one stops working."""
    return _feed_url(people.get_user(username), regenerate=True)


def _feed_url(owner, regenerate: bool = False):
    """Answer {"url"} of the owner's feed; the nonce it may have made (or replaced) is committed first."""
    url = calendar_feeds.feed_url(owner, regenerate=regenerate)
    db.session.commit()
    return jsonify({"url": url})
