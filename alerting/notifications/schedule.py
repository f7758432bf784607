"""A group's occurrences over a window with their computed timelines, and a user's coming shifts (SPEC §9).

Each occurrence's timeline is the one in force at its start (or at ``since`` if it is already
running): rotation, overrides and availability as at that instant. ALERT-rotated shifts show the
position the next alert would take.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from alerting.errors import FieldError
from alerting.notifications import oncall
from alerting.notifications.rota import (
    Availability,
    Expander,
    iso_instant,
    people_of,
    sequences,
    timeline_json,
    to_group,
)
from extensions import db
from models import Group, GroupMember, Override, Shift, ShiftMember, User

MAX_WINDOW = timedelta(days=366)
MAX_ITEMS = 5000
# Occurrences are enumerated from a shift's first start: bounded years keep that under recurrence.MAX_OCCURRENCES.
FIRST_YEAR, LAST_YEAR = 2000, 2100


def parse_instant(value: str | None, field: str, default: datetime) -> datetime:
    """An ISO 8601 instant from a query parameter (an offset or Z is required); ``default`` if absent."""
    if value is None or value == "":
        return default
    try:
        at = datetime.fromisoformat(value.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise FieldError(field, "must be an ISO 8601 instant like 2026-12-07T09:00:00Z") from None
    if at.tzinfo is None:
        raise FieldError(field, "needs an offset or Z (an instant, e.g. 2026-12-07T09:00:00+01:00)")
    if not FIRST_YEAR <= at.year <= LAST_YEAR:
        raise FieldError(field, f"must be in the years {FIRST_YEAR} to {LAST_YEAR}")
    return at


def window(since: datetime, until: datetime) -> None:
    """Check a ``from``/``to`` pair: ``to`` after ``from``, at most a year apart."""
    if until <= since:
        raise FieldError("to", "must be after from")
    if until - since > MAX_WINDOW:
        raise FieldError("to", "must be at most 366 days after from")


def occurrences(group: Group, since: datetime, until: datetime) -> list[dict]:
    """Every occurrence of the group's shifts overlapping [since, until), with its timeline, by start."""
    og = to_group(group, since=since)
    available = Availability()
    available.load(people_of(og))
    rows = []
    for shift in og.shifts:
        for occurrence in shift.window(og.timezone).occurrences(since, until)[:MAX_ITEMS]:
            rows.append((occurrence.start, shift, occurrence))
    rows.sort(key=lambda r: r[0])
    counters = sequences(group)
    items = []
    for start, shift, occurrence in rows[:MAX_ITEMS]:
        at = max(start, since)
        active = oncall.shift_timeline(og, shift, occurrence, at, available, counters)
        items.append({"shift": shift.name, "start": iso_instant(occurrence.start), "end": iso_instant(occurrence.end),
                      "timeline": timeline_json(active, Expander(at, available))})
    return items


def schedule_json(group: Group, since: datetime, until: datetime) -> dict:
    """``GET /groups/{name}/schedule?from=&to=``."""
    window(since, until)
    return {"group": group.name, "timezone": group.timezone or "UTC", "from": iso_instant(since),
            "to": iso_instant(until), "items": occurrences(group, since, until)}


def groups_of(user: User) -> list[Group]:
    """Groups with shifts in which the user may be on call: in a timeline, as fallback or replacement."""
    ids = {g for (g,) in db.session.query(Shift.group_id).join(ShiftMember).filter(ShiftMember.user_id == user.id)}
    ids |= {g for (g,) in db.session.query(Override.group_id).filter(Override.replacement_id == user.id)}
    ids |= {g for (g,) in db.session.query(GroupMember.group_id).filter(GroupMember.user_id == user.id)}
    groups = db.session.query(Group).filter(Group.id.in_(ids)).order_by(Group.name).all() if ids else []
    return [g for g in groups if g.shifts]


def user_shifts(user: User, since: datetime, until: datetime) -> list[dict]:
    """The user's occurrences in [since, until): where they are in a computed timeline, by start."""
    items = []
    for group in groups_of(user):
        for item in occurrences(group, since, until):
            found = [e for e in item["timeline"] if e["username"] == user.username]
            if found:
                items.append({"group": group.name, **item, "atMinutes": found[0]["atMinutes"],
                              "position": item["timeline"].index(found[0]) + 1})
    return sorted(items, key=lambda i: i["start"])[:MAX_ITEMS]


def user_on_call_json(user: User, since: datetime, until: datetime) -> dict:
    """``GET /users/{username}/on-call``: the user's coming shifts (default: the next 28 days)."""
    window(since, until)
    return {"username": user.username, "from": iso_instant(since), "to": iso_instant(until),
            "items": user_shifts(user, since, until)}
