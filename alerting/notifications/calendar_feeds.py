"""iCalendar feeds (SPEC §9): a group's shifts and a user's own, at ``/calendar/{signed token}.ics``.

The token is an itsdangerous signature (the app's SECRET_KEY, salt ``klaxon.calendar``) of
``[kind, id, nonce]``; ``nonce`` is a column of the group or user, so regenerating it revokes
every URL made before. A group's feed has one VEVENT per shift with its RRULE (DTSTART the first
real occurrence in the group's timezone, UNTIL in UTC as RFC 5545 asks when DTSTART has a TZID);
a user's feed has one VEVENT per coming occurrence they are in (rotation decides who, so no RRULE).
"""
from __future__ import annotations

import secrets
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from icalendar import Calendar, Event
from itsdangerous import BadSignature, URLSafeSerializer

from alerting.notifications.rota import aware, to_shift
from alerting.notifications.schedule import user_shifts
from alerting.recurrence import wall_to_instant
from extensions import db
from models import Group, Shift, User, utcnow

SALT = "klaxon.calendar"
USER_FEED_DAYS = 60


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def feed_url(owner: Group | User, regenerate: bool = False) -> str:
    """The feed URL of a group or user, making (or with ``regenerate``, replacing) its nonce; caller commits."""
    if regenerate or not owner.calendar_nonce:
        owner.calendar_nonce = secrets.token_urlsafe(12)
        db.session.flush()
    kind = "group" if isinstance(owner, Group) else "user"
    token = _serializer().dumps([kind, owner.id, owner.calendar_nonce])
    return f"{current_app.config['KLAXON'].base_url}/calendar/{token}.ics"


def read_token(token: str) -> Group | User | None:
    """The group or user a feed token stands for; None if it is forged or was revoked."""
    try:
        kind, owner_id, nonce = _serializer().loads(token)
    except (BadSignature, ValueError, TypeError):
        return None
    model = {"group": Group, "user": User}.get(kind)
    owner = db.session.get(model, owner_id) if model and isinstance(owner_id, int) else None
    if owner is None or not owner.calendar_nonce or not secrets.compare_digest(str(nonce), owner.calendar_nonce):
        return None
    return owner


def _calendar(name: str) -> Calendar:
    cal = Calendar()
    cal.add("prodid", "-//Klaxon//On-call//EN")
    cal.add("version", "2.0")
    cal.add("x-wr-calname", name)
    return cal


def _until_utc(until, zone: ZoneInfo) -> datetime:
    if isinstance(until, datetime):
        return until.astimezone(UTC) if until.tzinfo else wall_to_instant(until, zone)
    return wall_to_instant(datetime.combine(until, time(23, 59, 59)), zone)  # a date: that whole day


# SPEC names of a recurrence's fields -> iCalendar RRULE parts (RFC 5545 §3.3.10)
RRULE_PARTS = {"frequency": "freq", "interval": "interval", "byDay": "byday", "byMonthDay": "bymonthday",
               "until": "until", "count": "count"}


def _rrule(shift, zone: ZoneInfo) -> dict | None:
    rule = shift.recurrence
    if rule is None:
        return None
    out = {RRULE_PARTS[name]: value for name, value in rule.fields().items()}
    if rule.until is not None:
        out["until"] = _until_utc(rule.until, zone)
    return out


def _shift_event(group: Group, row: Shift) -> Event | None:
    shift = to_shift(row)
    window = shift.window(group.timezone or "UTC")
    first = window.first()
    if first is None:
        return None
    zone = window.zone
    event = Event()
    event.add("uid", f"shift-{row.id}@klaxon")
    event.add("summary", f"{group.name}: {row.name}")
    event.add("dtstamp", aware(utcnow()))
    event.add("dtstart", first.wall_start.replace(tzinfo=zone))
    event.add("duration", window.end - window.start)
    members = ", ".join(e.member for e in shift.timeline)
    event.add("description", f"Timeline as written: {members}")
    rule = _rrule(shift, zone)
    if rule is not None:
        event.add("rrule", rule)
    return event


def group_feed(group: Group) -> bytes:
    """The group's feed: one recurring VEVENT per shift."""
    cal = _calendar(f"{group.name} on call")
    for row in group.shifts:
        event = _shift_event(group, row)
        if event is not None:
            cal.add_component(event)
    return cal.to_ical()


def user_feed(user: User, now: datetime | None = None) -> bytes:
    """The user's feed: each occurrence they are in, from a day ago to ``USER_FEED_DAYS`` ahead."""
    now = now or aware(utcnow())
    cal = _calendar(f"{user.username} on call")
    for item in user_shifts(user, now - timedelta(days=1), now + timedelta(days=USER_FEED_DAYS)):
        event = Event()
        event.add("uid", f"{item['group']}-{item['shift']}-{item['start']}@klaxon".replace(" ", "_"))
        event.add("summary", f"On call: {item['group']} / {item['shift']}")
        event.add("dtstamp", now)
        event.add("dtstart", datetime.fromisoformat(item["start"].replace("Z", "+00:00")))
        event.add("dtend", datetime.fromisoformat(item["end"].replace("Z", "+00:00")))
        event.add("description", f"Position {item['position']}, paged {item['atMinutes']} minutes into the timeline")
        cal.add_component(event)
    return cal.to_ical()


def feed(owner: Group | User) -> bytes:
    """The feed of a group or user."""
    return group_feed(owner) if isinstance(owner, Group) else user_feed(owner)
