"""A group's on-call definition in the REST API (SPEC §9): ``timezone``, ``shifts``, ``fallback``.

``apply_on_call`` validates the JSON of a group's POST/PATCH (every error names its field, e.g.
``shifts[1].recurrence.byDay[0]``) and writes the rows; ``on_call_json`` shows them. Shifts are
kept by name across a PATCH, so an ALERT rotation's counter carries on.
"""
from __future__ import annotations

from alerting import validation as v
from alerting.errors import FieldError
from alerting.recurrence import parse_timezone, parse_window
from extensions import db
from models import ROTATION_DIRECTIONS, ROTATION_EVERY, Group, GroupFallback, Shift, ShiftMember, User

ON_CALL_FIELDS = {"timezone", "shifts", "fallback"}
SHIFT_FIELDS = {"name", "start", "end", "recurrence", "timeline", "rotation", "repeat"}
ENTRY_FIELDS = {"member", "recipientType", "delayMinutes"}
ROTATION_FIELDS = {"direction", "every", "intervalHours", "exclude"}
REPEAT_FIELDS = {"afterMinutes", "times"}
MAX_SHIFTS, MAX_TIMELINE, MAX_REPEAT_TIMES = 50, 2000, 20
WEEK_MINUTES = 7 * 24 * 60
FIRST_YEAR, LAST_YEAR = 2000, 2100  # as schedule.py's: occurrences are enumerated from the first start


def _known(data, allowed: set, where: str) -> dict:
    if not isinstance(data, dict):
        raise FieldError(where, "must be an object")
    for key in data:
        if key not in allowed:
            raise FieldError(f"{where}.{key}", "is not a known field (use " + ", ".join(sorted(allowed)) + ")")
    return data


def _listed(value, where: str, maximum: int) -> list:
    if not isinstance(value, list):
        raise FieldError(where, "must be a list")
    if len(value) > maximum:
        raise FieldError(where, f"must have at most {maximum} entries")
    return value


class _Directory:
    """Users and groups by name, looked up once per request."""

    def __init__(self, group: Group):
        self.group = group
        self.users: dict[str, User | None] = {}
        self.groups: dict[str, Group | None] = {}

    def member(self, name, kind, where: str) -> tuple[User | None, Group | None]:
        if kind == "GROUP":
            if name == self.group.name:
                raise FieldError(where, "a group cannot be a member of itself")
            if name not in self.groups:
                self.groups[name] = db.session.query(Group).filter_by(name=name).first()
            if self.groups[name] is None:
                raise FieldError(where, f"no group named {name!r}")
            return None, self.groups[name]
        if name not in self.users:
            self.users[name] = db.session.query(User).filter_by(username=name).first()
        if self.users[name] is None:
            raise FieldError(where, f"no user named {name!r}")
        return self.users[name], None


def _member_ref(item, where: str, directory: _Directory, allowed=frozenset({"member", "recipientType"})):
    """(name, recipientType, user, group) of a bare name or a {"member", "recipientType"} object."""
    if isinstance(item, str):
        item = {"member": item}
    _known(item, set(allowed), where)
    name = v.text(item.get("member"), f"{where}.member", max_len=100, required=True)
    kind = item.get("recipientType", "PERSON")
    if kind not in ("PERSON", "GROUP"):
        raise FieldError(f"{where}.recipientType", "must be PERSON or GROUP")
    user, group = directory.member(name, kind, f"{where}.member")
    return name, kind, user, group


def _timeline(value, where: str, directory: _Directory) -> list[ShiftMember]:
    if not _listed(value, where, MAX_TIMELINE):
        raise FieldError(where, "must list at least one member")
    entries = []
    for i, item in enumerate(value):
        at = f"{where}[{i}]"
        _, kind, user, group = _member_ref(item, at, directory, frozenset(ENTRY_FIELDS))
        delay = v.integer(item.get("delayMinutes") if isinstance(item, dict) else None, f"{at}.delayMinutes",
                          minimum=0, maximum=WEEK_MINUTES, default=0)
        entries.append(ShiftMember(position=i, recipient_type=kind, user=user, member_group=group,
                                   delay_minutes=delay, rotation_excluded=False))
    return entries


def _rotation(shift: Shift, value, where: str, names: list[str]) -> set[str]:
    data = _known(value or {}, ROTATION_FIELDS, where)
    direction = data.get("direction", "NONE")
    if direction not in ROTATION_DIRECTIONS:
        raise FieldError(f"{where}.direction", "must be one of " + ", ".join(ROTATION_DIRECTIONS))
    every = data.get("every", "SHIFT")
    if every not in ROTATION_EVERY:
        raise FieldError(f"{where}.every", "must be one of " + ", ".join(ROTATION_EVERY))
    hours = v.integer(data.get("intervalHours"), f"{where}.intervalHours", minimum=1, maximum=24 * 366)
    if every == "INTERVAL" and direction != "NONE" and hours is None:
        raise FieldError(f"{where}.intervalHours", "is required when every is INTERVAL")
    excluded = set()
    for i, name in enumerate(_listed(data.get("exclude") or [], f"{where}.exclude", MAX_TIMELINE)):
        if name not in names:
            raise FieldError(f"{where}.exclude[{i}]", f"{name!r} is not in the timeline")
        excluded.add(name)
    shift.rotation_direction, shift.rotation_every, shift.rotation_interval_hours = direction, every, hours
    return excluded


def _apply_shift(shift: Shift, data, where: str, timezone: str, directory: _Directory) -> None:
    _known(data, SHIFT_FIELDS, where)
    window = parse_window(data.get("start"), data.get("end"), timezone, data.get("recurrence"), prefix=f"{where}.")
    if not FIRST_YEAR <= window.start.year <= LAST_YEAR:
        raise FieldError(f"{where}.start", f"must be in the years {FIRST_YEAR} to {LAST_YEAR}")
    if window.first() is None:
        raise FieldError(f"{where}.recurrence", "never occurs (check start, byDay, byMonthDay and until)")
    shift.start_at, shift.end_at = window.start, window.end
    shift.recurrence = window.recurrence.as_dict() if window.recurrence else None
    entries = _timeline(data.get("timeline"), f"{where}.timeline", directory)
    names = [(e.user.username if e.user else e.member_group.name) for e in entries]
    excluded = _rotation(shift, data.get("rotation"), f"{where}.rotation", names)
    for entry, name in zip(entries, names, strict=True):
        entry.rotation_excluded = name in excluded
    shift.timeline = entries
    repeat = _known(data.get("repeat") or {}, REPEAT_FIELDS, f"{where}.repeat")
    shift.repeat_after_minutes = v.integer(repeat.get("afterMinutes"), f"{where}.repeat.afterMinutes",
                                           minimum=0, maximum=WEEK_MINUTES, default=0)
    shift.repeat_times = v.integer(repeat.get("times"), f"{where}.repeat.times", minimum=0,
                                   maximum=MAX_REPEAT_TIMES, default=0)
    if shift.repeat_times and not shift.repeat_after_minutes:
        raise FieldError(f"{where}.repeat.afterMinutes", "must be at least 1 when times is given")


def _shifts(group: Group, value, directory: _Directory) -> list[Shift]:
    current = {s.name: s for s in group.shifts}
    kept, seen = [], set()
    for i, data in enumerate(_listed(value, "shifts", MAX_SHIFTS)):
        where = f"shifts[{i}]"
        name = v.text(_known(data, SHIFT_FIELDS, where).get("name"), f"{where}.name", max_len=100, required=True)
        if name in seen:
            raise FieldError(f"{where}.name", f"{name!r} is listed twice")
        seen.add(name)
        shift = current.get(name) or Shift(name=name, alert_sequence=0)
        shift.position = i
        _apply_shift(shift, data, where, group.timezone, directory)
        kept.append(shift)
    return kept


def _fallback(value, directory: _Directory) -> list[GroupFallback]:
    rows, seen = [], set()
    for i, item in enumerate(_listed(value, "fallback", MAX_TIMELINE)):
        name, kind, user, group = _member_ref(item, f"fallback[{i}]", directory)
        if (name, kind) in seen:
            raise FieldError(f"fallback[{i}]", f"{name!r} is listed twice")
        seen.add((name, kind))
        rows.append(GroupFallback(position=i, recipient_type=kind, user=user, member_group=group))
    return rows


def apply_on_call(group: Group, data: dict) -> None:
    """Set ``timezone``, ``shifts`` (replacing the list) and ``fallback`` from a group's JSON."""
    if "timezone" in data or group.timezone is None:
        group.timezone = parse_timezone(data.get("timezone", "UTC"))
    directory = _Directory(group)
    if "shifts" in data:
        group.shifts = _shifts(group, data["shifts"] or [], directory)
    elif "timezone" in data:  # the shifts' wall-clock times now mean another zone: check they still occur
        for i, shift in enumerate(group.shifts):
            _apply_shift(shift, shift_to_json(shift), f"shifts[{i}]", group.timezone, directory)
    if "fallback" in data:
        group.fallback = _fallback(data["fallback"] or [], directory)


def _ref_json(row) -> dict:
    name = row.user.username if row.recipient_type == "PERSON" else row.member_group.name
    return {"member": name, "recipientType": row.recipient_type}


def shift_to_json(shift: Shift) -> dict:
    """A shift as the API shows it (the same shape it accepts)."""
    return {"name": shift.name, "start": shift.start_at.isoformat(timespec="minutes"),
            "end": shift.end_at.isoformat(timespec="minutes"), "recurrence": shift.recurrence,
            "timeline": [{**_ref_json(e), "delayMinutes": e.delay_minutes} for e in shift.timeline],
            "rotation": {"direction": shift.rotation_direction, "every": shift.rotation_every,
                         "intervalHours": shift.rotation_interval_hours,
                         "exclude": [_ref_json(e)["member"] for e in shift.timeline if e.rotation_excluded]},
            "repeat": {"afterMinutes": shift.repeat_after_minutes, "times": shift.repeat_times}}


def on_call_json(group: Group) -> dict:
    """The on-call part of a group's JSON: ``timezone``, ``shifts`` and ``fallback``."""
    return {"timezone": group.timezone or "UTC", "shifts": [shift_to_json(s) for s in group.shifts],
            "fallback": [_ref_json(f) for f in group.fallback]}
