"""Recurring wall-clock windows (SPEC §9/§10): rules, DST, overnight, month ends, until/count.

Expected instants are worked out by hand from the zones' 2026 rules and written in UTC:
- Europe/Berlin: CET +01:00, CEST +02:00; 2026-03-29 02:00 -> 03:00 (01:00Z),
  2026-10-25 03:00 -> 02:00 (01:00Z).
- America/New_York: EST -05:00, EDT -04:00; 2026-03-08 02:00 -> 03:00 (07:00Z),
  2026-11-01 02:00 -> 01:00 (06:00Z).
- Australia/Lord_Howe: +10:30 standard, +11:00 summer (a 30-minute change);
  2026-10-04 02:00 -> 02:30 (15:30Z on 10-03).
"""
from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from alerting.errors import FieldError
from alerting.recurrence import (
    Recurrence,
    RecurringWindow,
    _index_for,  # the per-window index, to show it is not rebuilt
    parse_recurrence,
    parse_timezone,
    parse_wall_clock,
    parse_window,
    wall_to_instant,
)


def z(text: str) -> datetime:
    """An instant written in UTC: z("2026-03-29T01:00")."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def daily(start: str, end: str, tz: str, **rule) -> RecurringWindow:
    recurrence = parse_recurrence({"frequency": "DAILY", **rule})
    return RecurringWindow(datetime.fromisoformat(start), datetime.fromisoformat(end), tz, recurrence)


def spans(window: RecurringWindow, since: str, until: str) -> list[tuple[datetime, datetime]]:
    return [(o.start, o.end) for o in window.occurrences(z(since), z(until))]


# --- wall-clock times that are skipped or repeated ------------------------------------------

@pytest.mark.parametrize("tz, wall, expected", [
    # ordinary: 09:00 CET is 08:00Z, 09:00 CEST is 07:00Z
    ("Europe/Berlin", "2026-03-28T09:00", "2026-03-28T08:00"),
    ("Europe/Berlin", "2026-03-29T09:00", "2026-03-29T07:00"),
    # skipped hour: 02:30 does not exist on 03-29; the first valid instant after it is 03:00 CEST = 01:00Z
    ("Europe/Berlin", "2026-03-29T02:30", "2026-03-29T01:00"),
    ("Europe/Berlin", "2026-03-29T02:00", "2026-03-29T01:00"),
    ("Europe/Berlin", "2026-03-29T03:00", "2026-03-29T01:00"),  # 03:00 CEST itself exists
    # repeated hour: 02:30 happens at 00:30Z (CEST) and 01:30Z (CET); the first is taken
    ("Europe/Berlin", "2026-10-25T02:30", "2026-10-25T00:30"),
    ("Europe/Berlin", "2026-10-25T03:00", "2026-10-25T02:00"),  # after the repeat: CET
    # New York skips 02:00-03:00 on 03-08 (03:00 EDT = 07:00Z), repeats 01:00-02:00 on 11-01
    ("America/New_York", "2026-03-08T02:15", "2026-03-08T07:00"),
    ("America/New_York", "2026-11-01T01:30", "2026-11-01T05:30"),  # 01:30 EDT
    # Lord Howe skips 02:00-02:30 on 10-04: 02:10 -> 02:30 +11:00 = 15:30Z the day before
    ("Australia/Lord_Howe", "2026-10-04T02:10", "2026-10-03T15:30"),
])
def test_it_maps_wall_clock_to_instants(tz, wall, expected):
    assert wall_to_instant(datetime.fromisoformat(wall), ZoneInfo(tz)) == z(expected)


# --- a 09:00-17:00 shift stays 09:00-17:00 local ---------------------------------------------

def test_a_day_shift_keeps_its_local_hours_across_both_changes():
    window = daily("2026-03-27T09:00", "2026-03-27T17:00", "Europe/Berlin")
    assert spans(window, "2026-03-28T00:00", "2026-03-30T00:00") == [
        (z("2026-03-28T08:00"), z("2026-03-28T16:00")),  # CET
        (z("2026-03-29T07:00"), z("2026-03-29T15:00")),  # CEST: an hour earlier in UTC
    ]
    assert spans(window, "2026-10-24T00:00", "2026-10-26T00:00") == [
        (z("2026-10-24T07:00"), z("2026-10-24T15:00")),
        (z("2026-10-25T08:00"), z("2026-10-25T16:00")),
    ]


@pytest.mark.parametrize("tz, start, end, since, expected", [
    # 22:00-06:00 over the spring change: 22:00 CET (21:00Z) to 06:00 CEST (04:00Z) = 7 h
    ("Europe/Berlin", "2026-03-20T22:00", "2026-03-21T06:00", "2026-03-28T21:00",
     ("2026-03-28T21:00", "2026-03-29T04:00")),
    # over the autumn change: 22:00 CEST (20:00Z) to 06:00 CET (05:00Z) = 9 h
    ("Europe/Berlin", "2026-10-20T22:00", "2026-10-21T06:00", "2026-10-24T20:00",
     ("2026-10-24T20:00", "2026-10-25T05:00")),
    # New York: 22:00 EST (03:00Z) to 06:00 EDT (10:00Z); 22:00 EDT (02:00Z) to 06:00 EST (11:00Z)
    ("America/New_York", "2026-03-01T22:00", "2026-03-02T06:00", "2026-03-08T03:00",
     ("2026-03-08T03:00", "2026-03-08T10:00")),
    ("America/New_York", "2026-10-25T22:00", "2026-10-26T06:00", "2026-11-01T02:00",
     ("2026-11-01T02:00", "2026-11-01T11:00")),
])
def test_an_overnight_shift_spanning_a_change_ends_at_its_local_hour(tz, start, end, since, expected):
    window = daily(start, end, tz)
    first = window.occurrences(z(since), z(since) + timedelta(minutes=1))
    assert [(o.start, o.end) for o in first] == [(z(expected[0]), z(expected[1]))]


def test_a_shift_starting_in_the_missing_hour_starts_when_the_clock_jumps():
    # 02:30-04:00 daily: 03-28 02:30 CET = 01:30Z; 03-29 02:30 missing -> 03:00 CEST = 01:00Z,
    # ending 04:00 CEST = 02:00Z (one hour long); 03-30 02:30 CEST = 00:30Z.
    window = daily("2026-03-20T02:30", "2026-03-20T04:00", "Europe/Berlin")
    assert spans(window, "2026-03-28T00:00", "2026-03-30T12:00") == [
        (z("2026-03-28T01:30"), z("2026-03-28T03:00")),
        (z("2026-03-29T01:00"), z("2026-03-29T02:00")),
        (z("2026-03-30T00:30"), z("2026-03-30T02:00")),
    ]
    assert window.active_at(z("2026-03-29T00:59")) is None  # 01:59 CET: not yet
    assert window.active_at(z("2026-03-29T01:00")).wall_start == datetime(2026, 3, 29, 2, 30)


def test_a_shift_ending_in_the_missing_hour_ends_when_the_clock_jumps():
    # 01:00-02:30 on 03-29: 01:00 CET = 00:00Z; 02:30 missing -> 03:00 CEST = 01:00Z
    window = daily("2026-03-29T01:00", "2026-03-29T02:30", "Europe/Berlin")
    assert spans(window, "2026-03-29T00:00", "2026-03-29T03:00") == [(z("2026-03-29T00:00"), z("2026-03-29T01:00"))]


def test_a_half_hour_change_is_handled_like_an_hour():
    # Lord Howe 02:10-03:00 on 10-04: 02:10 missing -> 02:30 +11 = 15:30Z; 03:00 +11 = 16:00Z
    window = daily("2026-10-01T02:10", "2026-10-01T03:00", "Australia/Lord_Howe")
    assert spans(window, "2026-10-03T15:00", "2026-10-03T17:00") == [(z("2026-10-03T15:30"), z("2026-10-03T16:00"))]


def test_a_shift_in_the_repeated_hour_takes_its_first_occurrence():
    # 02:30-03:30 on 10-25: 02:30 CEST (first) = 00:30Z; 03:30 CET = 02:30Z: two hours long
    window = daily("2026-10-25T02:30", "2026-10-25T03:30", "Europe/Berlin")
    assert spans(window, "2026-10-25T00:00", "2026-10-25T03:00") == [(z("2026-10-25T00:30"), z("2026-10-25T02:30"))]
    # New York 01:30-02:30 on 11-01: 01:30 EDT = 05:30Z; 02:30 EST = 07:30Z
    window = daily("2026-11-01T01:30", "2026-11-01T02:30", "America/New_York")
    assert spans(window, "2026-11-01T05:00", "2026-11-01T08:00") == [(z("2026-11-01T05:30"), z("2026-11-01T07:30"))]


# --- active at T ------------------------------------------------------------------------------

WORKDAYS = {"frequency": "WEEKLY", "byDay": ["MO", "TU", "WE", "TH", "FR"]}


@pytest.mark.parametrize("at, index", [
    # Mon-Fri 09:00-17:00 from Mon 2026-03-02: Mon 03-30 is the 21st workday (index 20)
    ("2026-03-30T14:30", 20),    # 16:30 CEST: on
    ("2026-03-30T15:30", None),  # 17:30 CEST: off (16:30 if CET were wrongly kept)
    ("2026-03-30T06:30", None),  # 08:30 CEST: not yet
    ("2026-03-30T07:00", 20),    # 09:00 CEST: the start is inside
    ("2026-03-30T15:00", None),  # 17:00 CEST: the end is outside
    ("2026-03-28T10:00", None),  # a Saturday
    ("2026-03-02T07:59", None),  # before the first start (08:00Z)
    ("2026-03-02T08:00", 0),
])
def test_it_finds_the_occurrence_active_at_an_instant(at, index):
    window = RecurringWindow(datetime(2026, 3, 2, 9), datetime(2026, 3, 2, 17), "Europe/Berlin",
                             parse_recurrence(WORKDAYS))
    found = window.active_at(z(at))
    assert (found.index if found else None) == index


@pytest.mark.parametrize("at, wall_start", [
    # nights 17:00-09:00 from Mon 2026-12-07 (CET): Thu 06:00 is the night that began Wed 17:00
    ("2026-12-10T05:00", datetime(2026, 12, 9, 17)),
    ("2026-12-10T07:59", datetime(2026, 12, 9, 17)),
    ("2026-12-10T08:00", None),  # 09:00 CET: over
    ("2026-12-10T16:00", datetime(2026, 12, 10, 17)),
    ("2026-12-07T15:59", None),
])
def test_an_overnight_shift_is_active_after_midnight(at, wall_start):
    window = daily("2026-12-07T17:00", "2026-12-08T09:00", "Europe/Berlin")
    found = window.active_at(z(at))
    assert (found.wall_start if found else None) == wall_start


def test_occurrences_include_one_already_running():
    window = daily("2026-12-07T17:00", "2026-12-08T09:00", "Europe/Berlin")
    found = window.occurrences(z("2026-12-07T23:00"), z("2026-12-08T23:00"))  # local midnight to midnight
    assert [(o.index, o.wall_start) for o in found] == [(0, datetime(2026, 12, 7, 17)), (1, datetime(2026, 12, 8, 17))]


# --- rules: month ends, interval, until, count ----------------------------------------------

@pytest.mark.parametrize("start, rule, expected_days", [
    # day 31 exists in Jan, Mar, May, Jul, Aug, Oct, Dec only (RRULE skips the others)
    ("2026-01-31", {"frequency": "MONTHLY", "byMonthDay": [31], "until": "2026-12-31"},
     ["2026-01-31", "2026-03-31", "2026-05-31", "2026-07-31", "2026-08-31", "2026-10-31", "2026-12-31"]),
    # a start on the 31st with no byMonthDay repeats on the 31st, skipping short months too
    ("2026-01-31", {"frequency": "MONTHLY", "count": 3}, ["2026-01-31", "2026-03-31", "2026-05-31"]),
    # -1: the last day of every month
    ("2026-01-01", {"frequency": "MONTHLY", "byMonthDay": [-1], "count": 4},
     ["2026-01-31", "2026-02-28", "2026-03-31", "2026-04-30"]),
    # the 29th: February 2028 has one (leap year), February 2027 not
    ("2027-01-29", {"frequency": "MONTHLY", "byMonthDay": [29], "until": "2028-03-01"},
     ["2027-01-29", "2027-03-29", "2027-04-29", "2027-05-29", "2027-06-29", "2027-07-29", "2027-08-29",
      "2027-09-29", "2027-10-29", "2027-11-29", "2027-12-29", "2028-01-29", "2028-02-29"]),
    ("2026-12-07", {"frequency": "DAILY", "interval": 2, "count": 3}, ["2026-12-07", "2026-12-09", "2026-12-11"]),
    # every other week, Monday and Wednesday, from Monday 12-07
    ("2026-12-07", {"frequency": "WEEKLY", "interval": 2, "byDay": ["MO", "WE"], "count": 4},
     ["2026-12-07", "2026-12-09", "2026-12-21", "2026-12-23"]),
    # the first occurrence is the first match at or after the start: Mon 12-07 -> Sat 12-12
    ("2026-12-07", {"frequency": "WEEKLY", "byDay": ["SA", "SU"], "count": 3}, ["2026-12-12", "2026-12-13", "2026-12-19"]),
    # until as a date includes that day; as a local time it includes a start exactly then
    ("2026-12-07", {"frequency": "DAILY", "until": "2026-12-09"}, ["2026-12-07", "2026-12-08", "2026-12-09"]),
    ("2026-12-07", {"frequency": "DAILY", "until": "2026-12-09T09:00"}, ["2026-12-07", "2026-12-08", "2026-12-09"]),
    ("2026-12-07", {"frequency": "DAILY", "until": "2026-12-09T08:59"}, ["2026-12-07", "2026-12-08"]),
    # until as an instant: 08:00Z is 09:00 CET (included), 07:59Z is 08:59 CET (not)
    ("2026-12-07", {"frequency": "DAILY", "until": "2026-12-09T08:00:00Z"}, ["2026-12-07", "2026-12-08", "2026-12-09"]),
    ("2026-12-07", {"frequency": "DAILY", "until": "2026-12-09T07:59:00+00:00"}, ["2026-12-07", "2026-12-08"]),
    ("2026-12-07", {"frequency": "DAILY", "count": 2}, ["2026-12-07", "2026-12-08"]),
    ("2026-12-07", None, ["2026-12-07"]),  # no recurrence: one occurrence
])
def test_rules_expand_like_rrule(start, rule, expected_days):
    window = RecurringWindow(datetime.fromisoformat(f"{start}T09:00"), datetime.fromisoformat(f"{start}T10:00"),
                             "Europe/Berlin", parse_recurrence(rule))
    found = window.occurrences(z("2026-01-01T00:00"), z("2029-01-01T00:00"))
    assert [o.wall_start.date().isoformat() for o in found] == expected_days


def test_count_and_until_end_the_shift():
    window = daily("2026-12-07T09:00", "2026-12-07T17:00", "Europe/Berlin", count=3)
    assert window.active_at(z("2026-12-09T09:00")).index == 2   # 10:00 CET on the third day
    assert window.active_at(z("2026-12-10T09:00")) is None      # no fourth day
    window = daily("2026-12-07T09:00", "2026-12-07T17:00", "Europe/Berlin", until="2026-12-08")
    assert window.active_at(z("2026-12-08T09:00")).index == 1
    assert window.active_at(z("2027-06-01T09:00")) is None


# --- speed: the index is built once and binary-searched -------------------------------------

def test_active_at_agrees_with_a_plain_scan_and_reuses_the_index():
    window = RecurringWindow(datetime(2026, 1, 5, 22), datetime(2026, 1, 6, 7), "America/New_York",
                             parse_recurrence({"frequency": "WEEKLY", "byDay": ["MO", "WE", "FR", "SU"]}))
    year = window.occurrences(z("2026-01-01T00:00"), z("2027-01-01T00:00"))
    # Mon 01-05 to Sun 12-27 is 51 weeks x 4 nights, then Mon 12-28 and Wed 12-30 (Fri 01-01
    # 22:00 EST is 03:00Z on 01-02, outside)
    assert len(year) == 206
    rng = random.Random(15)
    instants = [z("2026-01-01T00:00") + timedelta(seconds=rng.randrange(365 * 86400)) for _ in range(500)]
    enumerated = len(_index_for(window).walls)
    for at in instants:
        scanned = [o.index for o in year if o.start <= at < o.end]
        found = window.active_at(at)
        assert ([found.index] if found else []) == scanned, at
    assert len(_index_for(window).walls) == enumerated  # no re-enumeration from the first start


def test_threads_sharing_a_fresh_window_agree():
    import threading

    window = daily("2026-02-01T08:00", "2026-02-01T20:00", "Europe/Berlin", count=400)
    # 2026-12-31 12:00Z is 13:00 CET on day-of-year 365; 02-01 is day 32: index 365 - 32 = 333
    results, errors = [], []

    def ask():
        try:
            results.append(window.active_at(z("2026-12-31T12:00")).index)
        except Exception as exc:
            errors.append(exc)
    threads = [threading.Thread(target=ask) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert errors == [] and results == [333] * 8
    assert len(_index_for(window).walls) == 335  # enumerated once, up to the first start after T


# --- validation names the field -------------------------------------------------------------

@pytest.mark.parametrize("data, field", [
    ("WEEKLY", "shifts[1].recurrence"),
    ({}, "shifts[1].recurrence.frequency"),
    ({"frequency": "HOURLY"}, "shifts[1].recurrence.frequency"),
    ({"frequency": "weekly"}, "shifts[1].recurrence.frequency"),
    ({"frequency": "WEEKLY", "byDay": ["MON"]}, "shifts[1].recurrence.byDay[0]"),
    ({"frequency": "WEEKLY", "byDay": ["MO", 1]}, "shifts[1].recurrence.byDay[1]"),
    ({"frequency": "WEEKLY", "byDay": ["MO", "TU", "MO"]}, "shifts[1].recurrence.byDay[2]"),
    ({"frequency": "WEEKLY", "byDay": "MO"}, "shifts[1].recurrence.byDay"),
    ({"frequency": "WEEKLY", "byDay": []}, "shifts[1].recurrence.byDay"),
    ({"frequency": "MONTHLY", "byMonthDay": [1, 0]}, "shifts[1].recurrence.byMonthDay[1]"),
    ({"frequency": "MONTHLY", "byMonthDay": [32]}, "shifts[1].recurrence.byMonthDay[0]"),
    ({"frequency": "MONTHLY", "byMonthDay": [True]}, "shifts[1].recurrence.byMonthDay[0]"),
    ({"frequency": "WEEKLY", "byMonthDay": [1]}, "shifts[1].recurrence.byMonthDay"),
    ({"frequency": "DAILY", "interval": 0}, "shifts[1].recurrence.interval"),
    ({"frequency": "DAILY", "interval": "2"}, "shifts[1].recurrence.interval"),
    ({"frequency": "DAILY", "interval": True}, "shifts[1].recurrence.interval"),
    ({"frequency": "DAILY", "count": 0}, "shifts[1].recurrence.count"),
    ({"frequency": "DAILY", "count": 3, "until": "2027-01-01"}, "shifts[1].recurrence.count"),
    ({"frequency": "DAILY", "until": "next week"}, "shifts[1].recurrence.until"),
    ({"frequency": "DAILY", "until": 20270101}, "shifts[1].recurrence.until"),
    ({"frequency": "DAILY", "byHour": [9]}, "shifts[1].recurrence.byHour"),
])
def test_validation_names_the_field(data, field):
    with pytest.raises(FieldError) as caught:
        parse_recurrence(data, "shifts[1].recurrence")
    assert caught.value.field == field
    assert str(caught.value).startswith(field)


def test_a_valid_rule_round_trips_through_its_json_form():
    data = {"frequency": "WEEKLY", "interval": 2, "byDay": ["MO", "FR"], "until": "2027-01-31"}
    rule = parse_recurrence(data)
    assert rule == Recurrence("WEEKLY", 2, ("MO", "FR"), (), date(2027, 1, 31), None)
    assert parse_recurrence(rule.as_dict()) == rule and rule.as_dict() == data
    spec = {"frequency": "WEEKLY", "byDay": ["MO", "TU", "WE", "TH", "FR"], "until": None}  # SPEC §9
    assert parse_recurrence(spec).as_dict() == {"frequency": "WEEKLY", "byDay": ["MO", "TU", "WE", "TH", "FR"]}
    assert parse_recurrence(None) is None


@pytest.mark.parametrize("call, field", [
    (lambda: parse_wall_clock("2026-12-07T09:00+01:00", "shifts[0].start"), "shifts[0].start"),
    (lambda: parse_wall_clock("9am", "shifts[0].start"), "shifts[0].start"),
    (lambda: parse_wall_clock(None, "shifts[0].end"), "shifts[0].end"),
    (lambda: parse_timezone("Mars/Olympus_Mons"), "timezone"),
    (lambda: parse_timezone("../../etc/passwd"), "timezone"),
    (lambda: parse_timezone(""), "timezone"),
    (lambda: parse_window("2026-12-07T09:00", "2026-12-07T09:00", "UTC", None, "shifts[2]."), "shifts[2].end"),
    (lambda: parse_window("2026-12-07T09:00", "2026-12-07T17:00", "UTC", {"frequency": "X"}, "shifts[2]."),
     "shifts[2].recurrence.frequency"),
])
def test_window_fields_are_validated(call, field):
    with pytest.raises(FieldError) as caught:
        call()
    assert caught.value.field == field


def test_a_window_parses_from_request_values():
    window = parse_window("2026-12-07T17:00", "2026-12-08T09:00", parse_timezone("Europe/Berlin"),
                          {"frequency": "DAILY"}, "shifts[1].")
    assert window == daily("2026-12-07T17:00", "2026-12-08T09:00", "Europe/Berlin")
    with pytest.raises(ValueError):
        RecurringWindow(datetime(2026, 12, 7, 9, tzinfo=UTC), datetime(2026, 12, 7, 10, tzinfo=UTC), "UTC")
    with pytest.raises(ValueError):
        window.active_at(datetime(2026, 12, 7, 9))  # a naive instant is a caller's bug
