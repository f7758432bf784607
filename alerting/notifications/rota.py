"""Who is on call, from the database rows (SPEC §9): rows -> ``oncall`` values, answers as JSON.

The pure resolver (``alerting.notifications.oncall``) decides; this module feeds it a group's
shifts, fallback and overrides, who is available (an active user with an enabled device) and
each ALERT-rotated shift's counter, and expands nested groups to usernames. What ``on_call_at``
answers is what an alert created at that instant pages (escalation.py plans from the same calls).
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import exists
from sqlalchemy.orm import selectinload

from alerting.notifications import oncall
from alerting.notifications.oncall import ActiveShift, OnCall, Recipient
from alerting.recurrence import parse_recurrence
from extensions import db
from models import Device, Group, Override, Shift, ShiftMember, User

MAX_NESTING = 10


def aware(naive_utc: datetime) -> datetime:
    """A naive UTC timestamp from the database as an aware instant."""
    return naive_utc.replace(tzinfo=UTC)


def _entry_name(row) -> str:
    return row.user.username if row.recipient_type == "PERSON" else row.member_group.name


def to_shift(row: Shift) -> oncall.Shift:
    """One Shift row as the resolver's value."""
    timeline = tuple(oncall.TimelineEntry(_entry_name(e), e.delay_minutes, e.recipient_type) for e in row.timeline)
    rotation = oncall.Rotation(row.rotation_direction, row.rotation_every, row.rotation_interval_hours,
                               frozenset(_entry_name(e) for e in row.timeline if e.rotation_excluded))
    return oncall.Shift(row.name, row.start_at, row.end_at, parse_recurrence(row.recurrence), timeline,
                        rotation, oncall.Repeat(row.repeat_after_minutes, row.repeat_times))


def to_group(group: Group, since: datetime | None = None) -> oncall.OnCallGroup:
    """A group row as the resolver's value; overrides ended before ``since`` (aware) are left out."""
    query = db.session.query(Override).options(selectinload(Override.member), selectinload(Override.replacement),
                                               selectinload(Override.shift)).filter(Override.group_id == group.id)
    if since is not None:
        query = query.filter(Override.end_at > since.astimezone(UTC).replace(tzinfo=None))
    overrides = tuple(oncall.Override(aware(o.start_at), aware(o.end_at), o.member.username,
                                      o.replacement.username if o.replacement else None,
                                      o.shift.name if o.shift else None) for o in query)
    # the timelines and their users in three queries, not one per member (a timeline may hold a thousand)
    shifts = (db.session.query(Shift).filter(Shift.group_id == group.id).order_by(Shift.position)
              .options(selectinload(Shift.timeline).selectinload(ShiftMember.user),
                       selectinload(Shift.timeline).selectinload(ShiftMember.member_group)).all())
    fallback = tuple(Recipient(_entry_name(f), f.recipient_type) for f in group.fallback)
    return oncall.OnCallGroup(group.name, group.timezone or "UTC", tuple(to_shift(s) for s in shifts),
                              fallback, overrides)


def sequences(group: Group) -> dict[str, int]:
    """Each shift's ALERT counter as it stands: the position the next alert will take."""
    return {s.name: s.alert_sequence or 0 for s in group.shifts}


class Availability:
    """Who can be paged: active users with an enabled device, looked up in one query and kept."""

    def __init__(self):
        self.known: dict[str, bool] = {}

    def load(self, usernames: Iterable[str]) -> None:
        missing = [n for n in set(usernames) if n not in self.known]
        if not missing:
            return
        # names only, no ORM objects: a thousand-member timeline is asked in one light query
        enabled = exists().where(Device.user_id == User.id, Device.enabled.is_(True))
        found = {name for (name,) in db.session.query(User.username)
                 .filter(User.username.in_(missing), User.active.is_(True), enabled)}
        self.known.update({n: n in found for n in missing})

    def __call__(self, username: str) -> bool:
        if username not in self.known:
            self.load([username])
        return self.known[username]


def people_of(og: oncall.OnCallGroup) -> set[str]:
    """Every username the group's timelines, fallback and overrides name."""
    names = {e.member for s in og.shifts for e in s.timeline if e.recipient_type == oncall.PERSON}
    names |= {r.name for r in og.fallback if r.recipient_type == oncall.PERSON}
    return names | {o.replacement for o in og.overrides if o.replacement}


def resolve(group: Group, at: datetime, available: Availability | None = None,
            alert_sequence: dict[str, int] | None = None) -> OnCall:
    """The group's on-call at the aware instant ``at`` (ALERT counters as they stand unless given)."""
    og = to_group(group, since=at)
    available = available or Availability()
    available.load(people_of(og))
    return oncall.resolve_on_call(og, at, available, sequences(group) if alert_sequence is None else alert_sequence)


class Expander:
    """Nested groups to usernames: a group without shifts gives its members, one with shifts the
    first members of its active shifts (or its fallback), each user once, cycles cut."""

    def __init__(self, at: datetime, available: Availability):
        self.at, self.available, self.depth = at, available, 0

    def members_of(self, name: str) -> list[Recipient]:
        group = db.session.query(Group).filter_by(name=name).first()
        if group is None or self.depth > MAX_NESTING:
            return []
        if not group.shifts:
            return [Recipient(m.user.username) for m in group.members]
        self.depth += 1
        found = resolve(group, self.at, self.available)
        return [r for s in found.shifts for r in (s.waves[0].recipients if s.waves else ())] + list(found.fallback)

    def users(self, recipients: Iterable[Recipient]) -> list[str]:
        return oncall.expand_groups(recipients, self.members_of, self.available)


def timeline_json(shift: ActiveShift, expander: Expander) -> list[dict]:
    """A shift's waves as [{"username", "delayMinutes" (after the previous one), "atMinutes"}]."""
    out: list[dict] = []
    previous = 0
    for wave in shift.waves:
        users = expander.users(wave.recipients)
        for i, username in enumerate(users):
            out.append({"username": username, "delayMinutes": wave.delay_minutes - previous if i == 0 else 0,
                        "atMinutes": wave.delay_minutes})
        previous = wave.delay_minutes if users else previous
    return out


def _always_on(group: Group) -> list[dict]:
    """A group without shifts: every member at once, or one by one ``escalationDelayMinutes`` apart."""
    available = Availability()
    names = [m.user.username for m in group.members]
    available.load(names)
    delay = group.escalation_delay_minutes if group.mode == "escalate-in-order" else 0
    out: list[dict] = []
    at = 0.0
    for name in (n for n in names if available(n)):
        out.append({"username": name, "delayMinutes": delay if out else 0, "atMinutes": at})
        at += delay
    return out


def iso_instant(at: datetime) -> str:
    """An aware instant as ISO 8601 UTC with a Z."""
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def on_call_json(group: Group, at: datetime) -> dict:
    """``GET /groups/{name}/on-call?at=``: the active shifts with their computed timelines, and the fallback."""
    if not group.shifts:
        return {"at": iso_instant(at), "group": group.name, "timezone": group.timezone or "UTC",
                "shifts": [{"name": None, "start": None, "end": None, "timeline": _always_on(group)}],
                "fallback": [], "fallbackReason": None}
    available = Availability()
    found = resolve(group, at, available)
    expander = Expander(at, available)
    return {"at": iso_instant(at), "group": group.name, "timezone": group.timezone or "UTC",
            "shifts": [{"name": s.name, "start": iso_instant(s.occurrence.start), "end": iso_instant(s.occurrence.end),
                        "timeline": timeline_json(s, expander)} for s in found.shifts],
            "fallback": expander.users(found.fallback), "fallbackReason": found.fallback_reason}
