"""Maintenance windows: validation, JSON, which window is active for a configuration, ending early.

A window is a wall-clock window in an IANA timezone, one-off or repeated by SPEC §9's
``recurrence``: the same rules and code as on-call shifts (alerting.recurrence). ``start`` and
``end`` may be sent as local wall-clock times (``2026-12-07T22:00``, read in ``timezone``) or as
instants with an offset (``2026-12-07T21:00:00Z``, converted to the wall clock of ``timezone``).
"""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from alerting import validation as v
from alerting.errors import FieldError
from alerting.recurrence import (
    Occurrence,
    RecurringWindow,
    instant_to_wall,
    parse_recurrence,
    parse_timezone,
    wall_to_instant,
)
from extensions import db
from models import Configuration, MaintenanceWindow, iso, utcnow

FIELDS = ("name", "start", "end", "timezone", "recurrence", "configurations", "notifyOnEnd")


def aware(naive_utc: datetime) -> datetime:
    """A naive UTC datetime from the database as an aware instant."""
    return naive_utc.replace(tzinfo=UTC)


def naive(instant: datetime) -> datetime:
    """An aware instant as the database keeps it: naive UTC."""
    return instant.astimezone(UTC).replace(tzinfo=None)


def parse_time(value, field: str, zone_name: str) -> datetime:
    """A local wall-clock time in ``zone_name``, from a wall-clock string or an instant with an offset."""
    if not isinstance(value, str):
        raise FieldError(field, "must be a date-time string like 2026-12-07T22:00 (or an instant with an offset)")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise FieldError(field, "must be a date-time like 2026-12-07T22:00 or 2026-12-07T21:00:00Z") from None
    if parsed.tzinfo is not None:
        return instant_to_wall(parsed, ZoneInfo(zone_name)).replace(microsecond=0)
    return parsed.replace(microsecond=0)


def parse_instant(value, field: str, zone_name: str) -> datetime:
    """An aware instant: an offset as given, or a wall-clock time read in ``zone_name``."""
    wall = parse_time(value, field, zone_name)
    return wall_to_instant(wall, ZoneInfo(zone_name))


def _configurations(value) -> tuple[bool, list[str]]:
    if value == "all":
        return True, []
    if not isinstance(value, list) or not value:
        raise FieldError("configurations", 'must be "all" or a non-empty list of configuration uuids')
    uuids: list[str] = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not db.session.query(Configuration.id).filter_by(uuid=item).first():
            raise FieldError(f"configurations[{i}]", f"no configuration {item!r}")
        if item not in uuids:
            uuids.append(item)
    return False, uuids


def create(data: dict, actor: str | None = None) -> MaintenanceWindow:
    """A window from API or dashboard data (camelCase); FieldError names the first bad field. Not committed."""
    data = v.json_object(data, "body")
    for key in data:
        if key not in FIELDS:
            raise FieldError(key, f"is not a field of a maintenance window (one of {', '.join(FIELDS)})")
    zone_name = parse_timezone(data.get("timezone") or "UTC")
    start = parse_time(data.get("start"), "start", zone_name)
    end = parse_time(data.get("end"), "end", zone_name)
    if end <= start:
        raise FieldError("end", "must be after start")
    recurrence = parse_recurrence(data.get("recurrence"), "recurrence")
    all_configurations, uuids = _configurations(data.get("configurations"))
    window = MaintenanceWindow(
        name=v.text(data.get("name"), "name", max_len=200, required=True), start=start, end=end,
        timezone=zone_name, recurrence=recurrence.as_dict() if recurrence else None,
        all_configurations=all_configurations, configuration_uuids=uuids,
        notify_on_end=v.boolean(data.get("notifyOnEnd"), "notifyOnEnd", default=False),
        created_by=actor, created_at=utcnow())
    db.session.add(window)
    return window


def schedule(window: MaintenanceWindow) -> RecurringWindow:
    """The window's rule as alerting.recurrence computes it (cached per process by its value)."""
    return RecurringWindow(window.start, window.end, window.timezone, parse_recurrence(window.recurrence))


def occurrence_at(window: MaintenanceWindow, at: datetime) -> Occurrence | None:
    """The occurrence of ``window`` covering the aware instant ``at`` (None if none, or ended early)."""
    if window.ended_at is not None and at >= aware(window.ended_at):
        return None
    return schedule(window).active_at(at)


def ends_at(window: MaintenanceWindow, occurrence: Occurrence) -> datetime:
    """When ``occurrence`` of ``window`` really ends: its end, or the early end if sooner (aware)."""
    if window.ended_at is not None:
        return min(occurrence.end, aware(window.ended_at))
    return occurrence.end


def covers(window: MaintenanceWindow, cfg: Configuration) -> bool:
    return window.all_configurations or cfg.uuid in (window.configuration_uuids or [])


def active_for(cfg: Configuration, at: datetime, among: list[MaintenanceWindow] | None = None
               ) -> tuple[MaintenanceWindow, datetime] | None:
    """The active window covering ``cfg`` at ``at`` and when it ends; of several, the one ending last.
    ``among``: the windows to look at (e.g. a cache's), else every window, read now."""
    found = []
    candidates = among if among is not None else db.session.query(MaintenanceWindow).order_by(MaintenanceWindow.id)
    for window in candidates:
        occurrence = occurrence_at(window, at) if covers(window, cfg) else None
        if occurrence is not None:
            found.append((window, ends_at(window, occurrence)))
    return max(found, key=lambda pair: pair[1]) if found else None


def active_windows(at: datetime | None = None) -> list[MaintenanceWindow]:
    """Every window active now (or at ``at``), for the dashboard banner."""
    at = at or datetime.now(UTC)
    return [w for w in db.session.query(MaintenanceWindow).order_by(MaintenanceWindow.id)
            if occurrence_at(w, at) is not None]


def end_early(window: MaintenanceWindow, value) -> None:
    """PATCH {"end"}: a one-off window gets a new end; a recurring one stops at that instant, for good."""
    instant = parse_instant(value, "end", window.timezone)
    if window.recurrence is None:
        wall = instant_to_wall(instant, schedule(window).zone)
        if wall <= window.start:
            raise FieldError("end", "must be after the window's start")
        window.end = wall.replace(microsecond=0)
    else:
        window.ended_at = naive(instant)
    from alerting.maintenance.holds import window_changed

    window_changed(window)


def to_json(window: MaintenanceWindow, at: datetime | None = None) -> dict:
    at = at or datetime.now(UTC)
    current = occurrence_at(window, at)
    upcoming = None if current else next_occurrence(window, at)
    shown = current or upcoming
    return {
        "id": window.id, "name": window.name,
        "start": window.start.isoformat(timespec="minutes"), "end": window.end.isoformat(timespec="minutes"),
        "timezone": window.timezone, "recurrence": window.recurrence,
        "configurations": "all" if window.all_configurations else list(window.configuration_uuids or []),
        "notifyOnEnd": window.notify_on_end, "active": current is not None,
        "occurrence": {"start": iso(naive(shown.start)), "end": iso(naive(ends_at(window, shown)))} if shown else None,
        "endedAt": iso(window.ended_at), "createdBy": window.created_by, "createdAt": iso(window.created_at),
    }


def next_occurrence(window: MaintenanceWindow, at: datetime) -> Occurrence | None:
    """The first occurrence starting after ``at`` (within a year), unless the window was ended early."""
    if window.ended_at is not None and at >= aware(window.ended_at):
        return None
    later: list[Occurrence] = []
    for days in (2, 40, 366):  # a short look first: a daily window's year is 366 occurrences
        later = [o for o in schedule(window).occurrences(at, at + timedelta(days=days)) if o.start > at]
        if later:
            break
    if later and window.ended_at is not None and later[0].start >= aware(window.ended_at):
        return None
    return later[0] if later else None
