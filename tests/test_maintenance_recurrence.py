"""A recurring nightly maintenance window keeps its wall-clock times across daylight-saving changes.

Europe/Berlin 2026: CET +01:00 until 03-29 02:00 -> 03:00, CEST +02:00 until 10-25 03:00 -> 02:00.
A nightly 01:00-03:00 window is 00:00Z-02:00Z in winter and 23:00Z-01:00Z in summer.
"""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alerting.maintenance import windows
from models import MaintenanceWindow


def z(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def nightly(**extra) -> MaintenanceWindow:
    fields = {"recurrence": {"frequency": "DAILY"}, **extra}
    return MaintenanceWindow(name="Nightly", start=datetime(2026, 3, 20, 1, 0), end=datetime(2026, 3, 20, 3, 0),
                             timezone="Europe/Berlin", all_configurations=True, configuration_uuids=[],
                             notify_on_end=False, **fields)


@pytest.mark.parametrize("at, active", [
    ("2026-03-27T23:59", False), ("2026-03-28T00:00", True), ("2026-03-28T01:59", True),
    ("2026-03-28T02:00", False),  # the last winter night: 01:00-03:00 CET
    # the spring-forward night: 01:00 CET (00:00Z) to 03:00 CEST (01:00Z): one hour long
    ("2026-03-29T00:00", True), ("2026-03-29T00:59", True), ("2026-03-29T01:00", False),
    ("2026-03-29T23:00", True), ("2026-03-30T00:59", True), ("2026-03-30T01:00", False),  # summer
    # the fall-back night: 01:00 CEST (23:00Z on 10-24) to 03:00 CET (02:00Z): three hours long
    ("2026-10-24T22:59", False), ("2026-10-24T23:00", True), ("2026-10-25T01:59", True),
    ("2026-10-25T02:00", False),
    ("2026-10-25T23:59", False), ("2026-10-26T00:00", True), ("2026-10-26T02:00", False),  # winter again
])
def test_a_nightly_window_follows_the_wall_clock_across_dst(at, active):
    assert (windows.occurrence_at(nightly(), z(at)) is not None) is active


def test_ending_a_recurring_window_early_ends_every_later_night():
    window = nightly(ended_at=datetime(2026, 3, 28, 1, 0))
    assert windows.occurrence_at(window, z("2026-03-28T00:30")) is not None
    assert windows.occurrence_at(window, z("2026-03-28T01:00")) is None
    assert windows.occurrence_at(window, z("2026-04-02T23:30")) is None
    occurrence = windows.schedule(window).active_at(z("2026-03-28T00:30"))
    assert windows.ends_at(window, occurrence) == z("2026-03-28T01:00")


def test_a_weekly_window_on_weekend_nights_only():
    window = nightly(recurrence={"frequency": "WEEKLY", "byDay": ["SA", "SU"]})
    assert windows.occurrence_at(window, z("2026-03-21T00:30")) is not None  # Saturday
    assert windows.occurrence_at(window, z("2026-03-23T00:30")) is None  # Monday


def test_the_next_night_is_the_one_the_list_shows():
    assert windows.next_occurrence(nightly(), z("2026-03-28T12:00")).start == z("2026-03-29T00:00")
    monthly = nightly(recurrence={"frequency": "MONTHLY"})  # further than the first short look
    assert windows.next_occurrence(monthly, z("2026-03-21T12:00")).start == z("2026-04-19T23:00")
