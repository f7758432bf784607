"""Who is on call: a group of 10 shifts and 50 members over a year, asked at random instants.

    python -m bench.oncall [--queries 5000] [--seed 15]

Every shift's timeline holds all 50 members (the heaviest reading of "10 shifts, 50 members"),
with delays every fifth position, a mix of rules (workdays, nights, weekends, month days,
every other day or week, an overnight shift, one in the spring-forward hour) and rotations
(SHIFT, INTERVAL, ALERT), 40 overrides and 5 unavailable users. Times are in-process calls of
``resolve_on_call`` (no database). ``cold_first_ms`` is the first query after the occurrence
cache is cleared, at the end of the year (each shift enumerates its whole year once); the
percentiles are the queries after it. Prints one JSON line; target (issue 15): p95 <= 5 ms.
"""
from __future__ import annotations

import random
import time
from datetime import UTC, datetime, timedelta

from alerting.notifications.oncall import (
    GROUP,
    OnCallGroup,
    Override,
    Recipient,
    Rotation,
    Shift,
    TimelineEntry,
    resolve_on_call,
)
from alerting.recurrence import clear_cache, parse_recurrence
from bench.command_line import command_line

TARGET_P95_MS = 5.0
YEAR_START, YEAR_END = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
MEMBERS = [f"user{i:02d}" for i in range(50)]

# name, first start, first end, recurrence, rotation
SHIFTS = [
    ("Business hours", "2026-01-05T09:00", "2026-01-05T17:00",
     {"frequency": "WEEKLY", "byDay": ["MO", "TU", "WE", "TH", "FR"]}, Rotation("SECOND_TO_FIRST", "SHIFT")),
    ("Nights", "2026-01-01T17:00", "2026-01-02T09:00", {"frequency": "DAILY"},
     Rotation("SECOND_TO_FIRST", "INTERVAL", 168)),
    ("Weekends", "2026-01-03T00:00", "2026-01-04T00:00", {"frequency": "WEEKLY", "byDay": ["SA", "SU"]},
     Rotation("LAST_TO_FIRST", "SHIFT")),
    ("First of month", "2026-01-01T08:00", "2026-01-01T20:00", {"frequency": "MONTHLY", "byMonthDay": [1]},
     Rotation("SECOND_TO_FIRST", "SHIFT")),
    ("Month end", "2026-01-31T18:00", "2026-01-31T23:00", {"frequency": "MONTHLY", "byMonthDay": [-1]},
     Rotation("NONE")),
    ("Every other day", "2026-01-01T06:00", "2026-01-01T14:00", {"frequency": "DAILY", "interval": 2},
     Rotation("SECOND_TO_FIRST", "INTERVAL", 48)),
    ("Fortnightly lunches", "2026-01-05T12:00", "2026-01-05T13:00",
     {"frequency": "WEEKLY", "interval": 2, "byDay": ["MO", "WE", "FR"]}, Rotation("SECOND_TO_FIRST", "SHIFT")),
    ("Spring-forward hour", "2026-01-01T02:30", "2026-01-01T03:30", {"frequency": "DAILY"},
     Rotation("LAST_TO_FIRST", "INTERVAL", 24)),
    ("Tue/Thu overnight", "2026-01-06T20:00", "2026-01-07T08:00", {"frequency": "WEEKLY", "byDay": ["TU", "TH"]},
     Rotation("SECOND_TO_FIRST", "SHIFT", exclude=frozenset({"Managers"}))),
    ("Always", "2026-01-01T00:00", "2026-01-02T00:00", {"frequency": "DAILY"}, Rotation("SECOND_TO_FIRST", "ALERT")),
]


def build_group(rng: random.Random) -> OnCallGroup:
    """The benchmark group: 10 shifts, each timeline all 50 members in a shuffled order."""
    shifts = []
    for name, start, end, rule, rotation in SHIFTS:
        order = rng.sample(MEMBERS, len(MEMBERS))
        timeline = tuple(TimelineEntry(m, 5 if i % 5 == 0 and i else 0) for i, m in enumerate(order))
        timeline += (TimelineEntry("Managers", 30, GROUP),)
        shifts.append(Shift(name, datetime.fromisoformat(start), datetime.fromisoformat(end),
                            parse_recurrence(rule), timeline, rotation))
    overrides = []
    for _ in range(40):
        start = YEAR_START + timedelta(hours=rng.randrange(365 * 24))
        overrides.append(Override(start, start + timedelta(hours=rng.choice((4, 24, 72))), rng.choice(MEMBERS),
                                  rng.choice((None, *MEMBERS)), rng.choice((None, SHIFTS[0][0], SHIFTS[1][0]))))
    return OnCallGroup("Bench Team", "Europe/Berlin", tuple(shifts), (Recipient("ops-lead"),), tuple(overrides))


def occurrences_in_year(group: OnCallGroup) -> int:
    return sum(len(s.window(group.timezone).occurrences(YEAR_START, YEAR_END)) for s in group.shifts)


def percentile(sorted_ms: list[float], fraction: float) -> float:
    return sorted_ms[min(len(sorted_ms) - 1, int(fraction * len(sorted_ms)))]


def run(queries: int = 5000, seed: int = 15) -> dict:
    rng = random.Random(seed)
    group = build_group(rng)
    available = frozenset(MEMBERS[5:]) | {"ops-lead"}  # user00..user04 have no enabled device
    clear_cache()
    started = time.perf_counter()
    resolve_on_call(group, YEAR_END - timedelta(minutes=1), available, alert_sequence=0)
    cold_ms = (time.perf_counter() - started) * 1000
    instants = [YEAR_START + timedelta(seconds=rng.randrange(365 * 86400)) for _ in range(queries)]
    times, active = [], 0
    deadline = time.monotonic() + 60  # a bounded loop, whatever the machine
    for sequence, at in enumerate(instants):
        started = time.perf_counter()
        on_call = resolve_on_call(group, at, available, alert_sequence=sequence)
        times.append((time.perf_counter() - started) * 1000)
        active += len(on_call.shifts)
        if time.monotonic() > deadline:
            break
    times.sort()
    p95 = percentile(times, 0.95)
    return {"bench": "oncall", "shifts": len(group.shifts), "members": len(MEMBERS),
            "occurrences_in_year": occurrences_in_year(group), "count": len(times),
            "mean_active_shifts": round(active / len(times), 2), "cold_first_ms": round(cold_ms, 2),
            "p50_ms": round(percentile(times, 0.50), 3), "p95_ms": round(p95, 3), "max_ms": round(times[-1], 3),
            "targets": {f"p95<={TARGET_P95_MS:g}ms": p95 <= TARGET_P95_MS}}


def main(argv=None):
    command_line(run, __doc__, argv, queries=5000, seed=15)


if __name__ == "__main__":
    main()
