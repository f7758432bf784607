"""The ``recurrence`` object of SPEC §9 (shared by §10): validation and its stored form.

Meanings are iCalendar RRULE's (RFC 5545 §3.3.10), a subset: ``frequency`` DAILY | WEEKLY |
MONTHLY, ``interval``, ``byDay`` [MO..SU], ``byMonthDay`` [1..31 or -31..-1], ``until`` (a date,
a local date-time, or an instant with an offset), ``count``. dateutil expands it (recurrence.py).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from alerting.errors import FieldError

FREQUENCIES = ("DAILY", "WEEKLY", "MONTHLY")
WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
FIELDS = ("frequency", "interval", "byDay", "byMonthDay", "until", "count")
MAX_INTERVAL = 1000
MAX_COUNT = 100_000


@dataclass(frozen=True)
class Recurrence:
    """A validated rule. ``until``: a date (inclusive), a naive local datetime, or an aware instant."""

    frequency: str
    interval: int = 1
    by_day: tuple[str, ...] = ()
    by_month_day: tuple[int, ...] = ()
    until: date | datetime | None = None
    count: int | None = None

    def fields(self) -> dict:
        """The fields that say something (not their defaults), by SPEC name, with their stored values."""
        out: dict = {"frequency": self.frequency}
        if self.interval != 1:
            out["interval"] = self.interval
        if self.by_day:
            out["byDay"] = list(self.by_day)
        if self.by_month_day:
            out["byMonthDay"] = list(self.by_month_day)
        if self.until is not None:
            out["until"] = self.until
        if self.count is not None:
            out["count"] = self.count
        return out

    def as_dict(self) -> dict:
        """The JSON form, as the API accepts it (for a JSON column and for responses)."""
        out = self.fields()
        if self.until is not None:
            out["until"] = self.until.isoformat()
        return out


def parse_recurrence(data, prefix: str = "recurrence") -> Recurrence | None:
    """Validate a ``recurrence`` object; None (or absent) means the window does not repeat.

    Every error is a FieldError naming the path under ``prefix``, e.g.
    ``shifts[1].recurrence.byDay[0]``.
    """
    if data is None:
        return None
    if not isinstance(data, dict):
        raise FieldError(prefix, "must be an object like {\"frequency\": \"WEEKLY\"}")
    for key in data:
        if key not in FIELDS:
            raise FieldError(f"{prefix}.{key}", f"is not a recurrence field (one of {', '.join(FIELDS)})")
    frequency = data.get("frequency")
    if frequency not in FREQUENCIES:
        raise FieldError(f"{prefix}.frequency", f"must be one of {', '.join(FREQUENCIES)}")
    by_month_day = _month_days(data.get("byMonthDay"), f"{prefix}.byMonthDay")
    if by_month_day and frequency == "WEEKLY":
        raise FieldError(f"{prefix}.byMonthDay", "cannot be used with a WEEKLY frequency (RFC 5545)")
    until = _until(data.get("until"), f"{prefix}.until")
    count = _positive(data.get("count"), f"{prefix}.count", MAX_COUNT)
    if until is not None and count is not None:
        raise FieldError(f"{prefix}.count", "cannot be given together with until")
    return Recurrence(
        frequency=frequency,
        interval=_positive(data.get("interval"), f"{prefix}.interval", MAX_INTERVAL) or 1,
        by_day=_weekdays(data.get("byDay"), f"{prefix}.byDay"),
        by_month_day=by_month_day, until=until, count=count)


def _positive(value, field: str, maximum: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise FieldError(field, "must be a whole number")
    if not 1 <= value <= maximum:
        raise FieldError(field, f"must be between 1 and {maximum}")
    return value


def _listed(value, field: str) -> list:
    if not isinstance(value, list):
        raise FieldError(field, "must be a list")
    if not value:
        raise FieldError(field, "must not be empty (leave it out instead)")
    return value


def _weekdays(value, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    days: list[str] = []
    for i, day in enumerate(_listed(value, field)):
        if day not in WEEKDAYS:
            raise FieldError(f"{field}[{i}]", f"must be one of {', '.join(WEEKDAYS)}")
        if day in days:
            raise FieldError(f"{field}[{i}]", f"lists {day} twice")
        days.append(day)
    return tuple(days)


def _month_days(value, field: str) -> tuple[int, ...]:
    if value is None:
        return ()
    days: list[int] = []
    for i, day in enumerate(_listed(value, field)):
        if isinstance(day, bool) or not isinstance(day, int) or not (1 <= abs(day) <= 31):
            raise FieldError(f"{field}[{i}]", "must be a day of the month, 1 to 31 (or -1 to -31 from the end)")
        if day in days:
            raise FieldError(f"{field}[{i}]", f"lists {day} twice")
        days.append(day)
    return tuple(days)


def _until(value, field: str) -> date | datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            return date.fromisoformat(value) if len(value) == 10 else datetime.fromisoformat(value)
        except ValueError:
            pass
    raise FieldError(field, "must be a date (2027-01-31), a local date-time or an instant with an offset")
