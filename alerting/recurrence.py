"""Recurring wall-clock windows (on-call shifts, SPEC §9; maintenance windows, §10).

A window is a start and end in local wall-clock time in an IANA timezone, repeated by an
iCalendar-style rule that python-dateutil's ``rrule`` expands. Wall-clock semantics:

- a 09:00-17:00 window stays 09:00-17:00 local across daylight-saving changes;
- a wall time in a repeated (fall-back) hour means its first occurrence (``fold=0``);
- a wall time in a skipped (spring-forward) hour means the first valid instant after it, the
  transition itself (02:30 on a 02:00->03:00 night is 03:00 local), as GoAlert does: the shift
  starts as soon as the clock allows, never an hour late and never in the previous hour;
- the first occurrence is the first match of the rule at or after ``start`` (dateutil's
  meaning, so a Monday start with ``byDay: [SA, SU]`` first occurs that Saturday).

Occurrences are enumerated once per window and process (dateutil's ``before``/``after`` walk
from the first start every call), kept as a sorted list of start instants and binary-searched,
so "which occurrence is active at T" costs O(log n) after the first call.
"""
from __future__ import annotations

import threading
from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

from dateutil import rrule  # no stubs installed

from alerting.errors import FieldError
from alerting.recurrence_rules import Recurrence, parse_recurrence

# A bound on one window's enumerated occurrences: daily for 270 years, so never a memory leak.
MAX_OCCURRENCES = 100_000

_FREQUENCIES = {"DAILY": rrule.DAILY, "WEEKLY": rrule.WEEKLY, "MONTHLY": rrule.MONTHLY}
_WEEKDAYS = {"MO": rrule.MO, "TU": rrule.TU, "WE": rrule.WE, "TH": rrule.TH,
             "FR": rrule.FR, "SA": rrule.SA, "SU": rrule.SU}


@dataclass(frozen=True)
class Occurrence:
    """One occurrence of a window: ``index`` counts from 0 at the first; ``wall_start`` is local.

    ``start``/``end`` are UTC instants: aware datetimes sharing one ZoneInfo compare and subtract
    by wall time, which is wrong across a DST change; convert with ``.astimezone`` to display.
    """

    index: int
    start: datetime
    end: datetime
    wall_start: datetime

    def covers(self, at: datetime) -> bool:
        """True when ``at`` (an aware instant) is inside [start, end)."""
        return self.start <= at < self.end


@dataclass(frozen=True)
class RecurringWindow:
    """``start``/``end``: naive local wall-clock datetimes of the first window; ``end`` > ``start``."""

    start: datetime
    end: datetime
    timezone: str
    recurrence: Recurrence | None = None

    def __post_init__(self):
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("RecurringWindow start and end are wall-clock times: pass naive datetimes")
        if self.end <= self.start:
            raise ValueError("RecurringWindow end must be after start")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def first(self) -> Occurrence | None:
        """The first occurrence (None if the rule never matches)."""
        return _index_for(self).get(0)

    def active_at(self, at: datetime) -> Occurrence | None:
        """The occurrence covering the aware instant ``at``, or None."""
        return _index_for(self).active_at(_aware(at))

    def occurrences(self, since: datetime, until: datetime) -> list[Occurrence]:
        """Occurrences overlapping [since, until), in order of start."""
        return _index_for(self).overlapping(_aware(since), _aware(until))

    def wall_starts(self) -> Iterator[datetime]:
        """The naive local start of each occurrence, as the rule produces them."""
        if self.recurrence is None:
            return iter((self.start,))
        return iter(_rule(self.recurrence, self.start, self.zone))


def parse_wall_clock(value, field: str) -> datetime:
    """A local wall-clock time ``YYYY-MM-DDTHH:MM[:SS]`` with no offset (the timezone is separate)."""
    if not isinstance(value, str):
        raise FieldError(field, "must be a local date-time string like 2026-12-07T09:00")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise FieldError(field, "must be a local date-time like 2026-12-07T09:00") from None
    if parsed.tzinfo is not None:
        raise FieldError(field, "is a wall-clock time in the timezone: leave out the offset")
    return parsed


def parse_timezone(value, field: str = "timezone") -> str:
    """An IANA timezone name known to this system's tz database (e.g. Europe/Berlin)."""
    if not isinstance(value, str) or not value:
        raise FieldError(field, "must be an IANA timezone name like Europe/Berlin")
    try:
        ZoneInfo(value)
    except (KeyError, ValueError, OSError):  # ZoneInfoNotFoundError is a KeyError; "../x" a ValueError
        raise FieldError(field, f"is not a known IANA timezone: {value!r}") from None
    return value


def parse_window(start, end, zone_name: str, recurrence, prefix: str = "") -> RecurringWindow:
    """Build a window from request values; errors name ``<prefix>start``, ``<prefix>end``, …"""
    first_start = parse_wall_clock(start, f"{prefix}start")
    first_end = parse_wall_clock(end, f"{prefix}end")
    if first_end <= first_start:
        raise FieldError(f"{prefix}end", "must be after start")
    rule = parse_recurrence(recurrence, f"{prefix}recurrence")
    return RecurringWindow(first_start, first_end, zone_name, rule)


def wall_to_instant(wall: datetime, zone: ZoneInfo) -> datetime:
    """The UTC instant of a naive wall time: the first of a repeated hour, the end of a skipped one."""
    first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if first.astimezone(zone).replace(tzinfo=None) == wall:
        return first
    # In a gap fold=1 reads the wall with the later offset (an instant before the transition)
    # and fold=0 with the earlier one (after it); the transition lies between.
    before = int(wall.replace(tzinfo=zone, fold=1).astimezone(UTC).timestamp())
    after = int(first.timestamp()) + 1
    later_offset = first.astimezone(zone).utcoffset()
    while after - before > 1:
        middle = (before + after) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == later_offset:
            after = middle
        else:
            before = middle
    return datetime.fromtimestamp(after, UTC)


def instant_to_wall(at: datetime, zone: ZoneInfo) -> datetime:
    """The naive local wall time shown by a clock in ``zone`` at the aware instant ``at``."""
    return at.astimezone(zone).replace(tzinfo=None)


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None:
        raise ValueError("pass an aware datetime (an instant), not a naive one")
    return at


def _rule(recurrence: Recurrence, dtstart: datetime, zone: ZoneInfo) -> rrule.rrule:
    until = recurrence.until
    if isinstance(until, datetime):
        until = instant_to_wall(until, zone) if until.tzinfo else until
    elif isinstance(until, date):
        until = datetime.combine(until, time.max)  # a date: occurrences starting that day count
    return rrule.rrule(
        _FREQUENCIES[recurrence.frequency], dtstart=dtstart, interval=recurrence.interval,
        wkst=rrule.MO, count=recurrence.count, until=until,
        byweekday=tuple(_WEEKDAYS[d] for d in recurrence.by_day) or None,
        bymonthday=recurrence.by_month_day or None)


class _OccurrenceIndex:
    """A window's occurrence starts, enumerated lazily from one live rrule iterator."""

    def __init__(self, window: RecurringWindow):
        self.zone = window.zone
        self.duration = window.end - window.start
        self.walls: list[datetime] = []
        self.epochs = array("d")  # start instants as POSIX seconds (8 bytes each), for bisect
        self._source = window.wall_starts()
        self._exhausted = False
        self._lock = threading.Lock()

    def _extend_past(self, epoch: float) -> None:
        """Enumerate until the last known start is after ``epoch`` (or the rule ends)."""
        if self._exhausted or (self.epochs and self.epochs[-1] > epoch):
            return
        with self._lock:
            while not self._exhausted and not (self.epochs and self.epochs[-1] > epoch):
                wall = next(self._source, None)
                if wall is None:
                    self._exhausted = True
                    break
                if len(self.walls) >= MAX_OCCURRENCES:
                    raise ValueError(f"a recurring window has more than {MAX_OCCURRENCES} occurrences before that time")
                self.walls.append(wall)  # before its epoch: readers bound indexes by len(epochs)
                self.epochs.append(wall_to_instant(wall, self.zone).timestamp())

    def _make(self, index: int) -> Occurrence:
        end = wall_to_instant(self.walls[index] + self.duration, self.zone)
        start = datetime.fromtimestamp(self.epochs[index], UTC)  # exact to the microsecond
        return Occurrence(index, start, end, self.walls[index])

    def get(self, index: int) -> Occurrence | None:
        while len(self.epochs) <= index and not self._exhausted:
            self._extend_past(self.epochs[-1] if self.epochs else float("-inf"))
        return self._make(index) if index < len(self.epochs) else None

    def active_at(self, at: datetime) -> Occurrence | None:
        epoch = at.timestamp()
        self._extend_past(epoch)
        index = bisect_right(self.epochs, epoch) - 1
        if index < 0:
            return None
        # Wall durations are equal and wall->instant is monotonic, so the latest start ends last.
        occurrence = self._make(index)
        return occurrence if at < occurrence.end else None

    def overlapping(self, since: datetime, until: datetime) -> list[Occurrence]:
        low, high = since.timestamp(), until.timestamp()
        self._extend_past(high)
        stop = bisect_left(self.epochs, high)
        index = bisect_right(self.epochs, low) - 1
        while index >= 0 and self._make(index).end > since:
            index -= 1  # earlier occurrences may still be running at ``since``
        found = (self._make(i) for i in range(max(index + 1, 0), stop))
        return [o for o in found if o.end > since]


@lru_cache(maxsize=1024)  # ~64 bytes an occurrence: a daily shift's year is ~23 kB
def _index_for(window: RecurringWindow) -> _OccurrenceIndex:
    return _OccurrenceIndex(window)


def clear_cache() -> None:
    """Forget every enumerated window (tests; memory is otherwise bounded by the LRU size)."""
    _index_for.cache_clear()


__all__ = [
    "Occurrence",
    "Recurrence",
    "RecurringWindow",
    "instant_to_wall",
    "parse_recurrence",
    "parse_timezone",
    "parse_wall_clock",
    "parse_window",
    "wall_to_instant",
]
