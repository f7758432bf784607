"""Who is on call (SPEC §9): rotation, overrides, availability, waves, fallback, nested groups.

Expected values are worked out by hand; each table says how. Zone facts used (2026):
America/New_York jumps 02:00 EST -> 03:00 EDT on Sun 03-08; Europe/Berlin jumps 02:00 CET ->
03:00 CEST on Sun 03-29 and falls back 03:00 CEST -> 02:00 CET on Sun 10-25 (01:00Z).
"""
from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from alerting.notifications.oncall import (
    GROUP,
    PERSON,
    OnCall,
    OnCallGroup,
    Override,
    Recipient,
    Repeat,
    Rotation,
    Shift,
    TimelineEntry,
    alert_rotated_shifts,
    expand_groups,
    resolve_on_call,
    rotate,
    rotation_step,
)
from alerting.recurrence import parse_recurrence

BERLIN = ZoneInfo("Europe/Berlin")
WORKDAYS = {"frequency": "WEEKLY", "byDay": ["MO", "TU", "WE", "TH", "FR"]}
AS_IS, NO_REPEAT = Rotation(), Repeat()


def z(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def berlin(text: str) -> datetime:
    """An unambiguous Berlin wall time as an instant."""
    return datetime.fromisoformat(text).replace(tzinfo=BERLIN)


def timeline(*members) -> tuple[TimelineEntry, ...]:
    """timeline("a", ("b", 10), ("Managers", 50, GROUP))"""
    return tuple(TimelineEntry(*m) if isinstance(m, tuple) else TimelineEntry(m) for m in members)


def shift(name, start, end, rule, members, rotation=AS_IS, repeat=NO_REPEAT) -> Shift:
    return Shift(name, datetime.fromisoformat(start), datetime.fromisoformat(end), parse_recurrence(rule),
                 members, rotation, repeat)


def always(members, rotation=AS_IS, name="Always") -> Shift:
    """A shift covering every instant: whole days, back to back."""
    return shift(name, "2026-01-01T00:00", "2026-01-02T00:00", {"frequency": "DAILY"}, members, rotation)


def group(*shifts, tz="Europe/Berlin", fallback=("ops-lead",), overrides=()) -> OnCallGroup:
    return OnCallGroup("Database Team", tz, shifts, tuple(Recipient(f) for f in fallback), tuple(overrides))


def plan(on_call: OnCall, name: str | None = None) -> list[tuple[int, list[str]]]:
    """A shift's waves as (delay from start, [names]); the only active shift unless named."""
    shifts = [s for s in on_call.shifts if name in (None, s.name)]
    assert len(shifts) == 1, [s.name for s in on_call.shifts]
    return [(w.delay_minutes, [r.name for r in w.recipients]) for w in shifts[0].waves]


# --- the SPEC §9 example group ------------------------------------------------------------

SPEC_GROUP = group(
    shift("Business hours", "2026-12-07T09:00", "2026-12-07T17:00", WORKDAYS,
          timeline("bsmith", ("jdoe", 10), ("DBA Managers", 50, GROUP)),
          Rotation("SECOND_TO_FIRST", "SHIFT", exclude=frozenset({"DBA Managers"})), Repeat(30, 2)),
    shift("Nights", "2026-12-07T17:00", "2026-12-08T09:00", {"frequency": "DAILY"},
          timeline("oncall-a", "oncall-b"), Rotation("SECOND_TO_FIRST", "INTERVAL", 168)))


@pytest.mark.parametrize("at, shift_name, expected", [
    # Mon 12-07 is occurrence 0 of Business hours: as written; delays add up 0, 10, 10+50
    ("2026-12-07T10:00", "Business hours", [(0, ["bsmith"]), (10, ["jdoe"]), (60, ["DBA Managers"])]),
    # Tue is occurrence 1: bsmith moves to the end of the two who rotate; the manager stays
    ("2026-12-08T10:00", "Business hours", [(0, ["jdoe"]), (10, ["bsmith"]), (60, ["DBA Managers"])]),
    # Mon 12-14 is occurrence 5 (Mon-Fri 0-4): 5 % 2 = 1 step
    ("2026-12-14T10:00", "Business hours", [(0, ["jdoe"]), (10, ["bsmith"]), (60, ["DBA Managers"])]),
    # Nights: no delays, one wave; 3:00 on 12-08 is 10 h after the first start: no rotation yet
    ("2026-12-08T03:00", "Nights", [(0, ["oncall-a", "oncall-b"])]),
    # Mon 12-14 20:00 is 7 days 3 h after the first start: one whole 168 h interval
    ("2026-12-14T20:00", "Nights", [(0, ["oncall-b", "oncall-a"])]),
])
def test_the_spec_example_group(at, shift_name, expected):
    on_call = resolve_on_call(SPEC_GROUP, berlin(at))
    assert plan(on_call) == expected and on_call.shifts[0].name == shift_name
    assert on_call.fallback == () and on_call.fallback_reason is None


def test_no_active_shift_means_the_fallback():
    on_call = resolve_on_call(SPEC_GROUP, berlin("2026-12-12T12:00"))  # Saturday noon: neither shift
    assert on_call.shifts == () and on_call.fallback == (Recipient("ops-lead"),)
    assert on_call.fallback_reason == "no shift is active"
    assert resolve_on_call(SPEC_GROUP, berlin("2026-12-07T08:59")).fallback == (Recipient("ops-lead"),)


def test_the_repeat_and_occurrence_travel_with_the_shift():
    active = resolve_on_call(SPEC_GROUP, berlin("2026-12-09T12:00")).shifts[0]
    assert active.repeat == Repeat(30, 2) and active.rotation_step == 2
    assert (active.occurrence.start, active.occurrence.end) == (z("2026-12-09T08:00"), z("2026-12-09T16:00"))


# --- a week across a DST change: two shifts, weekly handovers -----------------------------

NOC = group(
    shift("Business hours", "2026-03-02T09:00", "2026-03-02T17:00", WORKDAYS,
          timeline("alice", ("bob", 15)), Rotation("SECOND_TO_FIRST", "INTERVAL", 168)),
    shift("Nights", "2026-03-02T17:00", "2026-03-03T09:00", {"frequency": "DAILY"},
          timeline("carol", ("dave", 15)), Rotation("SECOND_TO_FIRST", "INTERVAL", 168)),
    tz="America/New_York", fallback=("lead",))


@pytest.mark.parametrize("at, expected", [
    ("2026-03-02T14:00", ("Business hours", "alice")),  # Mon 09:00 EST, the first start
    ("2026-03-02T21:59", ("Business hours", "alice")),  # 16:59 EST
    ("2026-03-02T22:00", ("Nights", "carol")),          # 17:00 EST: day ends, night begins
    ("2026-03-07T15:00", None),                         # Sat 10:00 EST: between nights
    ("2026-03-08T06:30", ("Nights", "carol")),          # Sun 01:30 EST, before the jump
    ("2026-03-08T07:30", ("Nights", "carol")),          # Sun 03:30 EDT, after it
    ("2026-03-08T13:30", None),                         # Sun 09:30 EDT: night over (08:30 if EST)
    ("2026-03-09T12:30", ("Nights", "carol")),          # Mon 08:30 EDT: 6 d 15.5 h into the rota
    # Mon 09:30 EDT: 168.5 wall-clock hours after Mon 09:00 EST, one handover (167.5 real hours)
    ("2026-03-09T13:30", ("Business hours", "bob")),
    ("2026-03-09T21:30", ("Nights", "dave")),           # Mon 17:30 EDT, the night handover
    ("2026-03-11T15:00", ("Business hours", "bob")),    # Wed 11:00 EDT
    ("2026-03-16T13:00", ("Business hours", "alice")),  # Mon 09:00 EDT: two handovers
])
def test_the_right_person_across_a_week_and_a_dst_change(at, expected):
    on_call = resolve_on_call(NOC, z(at))
    if expected is None:
        assert on_call.shifts == () and on_call.fallback == (Recipient("lead"),)
        return
    name, first = expected
    second = {"alice": "bob", "bob": "alice", "carol": "dave", "dave": "carol"}[first]
    assert plan(on_call, name) == [(0, [first]), (15, [second])]
    assert [s.name for s in on_call.shifts] == [name]


# --- rotation -------------------------------------------------------------------------------

@pytest.mark.parametrize("direction, step, expected", [
    ("SECOND_TO_FIRST", 0, ["a", "b", "c", "Managers"]),
    ("SECOND_TO_FIRST", 1, ["b", "c", "a", "Managers"]),  # the first goes to the end
    ("SECOND_TO_FIRST", 2, ["c", "a", "b", "Managers"]),
    ("SECOND_TO_FIRST", 3, ["a", "b", "c", "Managers"]),  # three movable members: back round
    ("SECOND_TO_FIRST", 7, ["b", "c", "a", "Managers"]),
    ("LAST_TO_FIRST", 1, ["c", "a", "b", "Managers"]),    # the last comes to the front
    ("LAST_TO_FIRST", 2, ["b", "c", "a", "Managers"]),
    ("LAST_TO_FIRST", 3, ["a", "b", "c", "Managers"]),
    ("NONE", 5, ["a", "b", "c", "Managers"]),
])
def test_rotation_moves_members_through_fixed_positions(direction, step, expected):
    written = timeline("a", ("b", 5), ("c", 5), ("Managers", 10, GROUP))
    rotated = rotate(written, Rotation(direction, "SHIFT", exclude=frozenset({"Managers"})), step)
    assert [e.member for e in rotated] == expected
    assert [e.delay_minutes for e in rotated] == [0, 5, 5, 10]  # delays belong to positions


@pytest.mark.parametrize("direction, expected", [
    ("SECOND_TO_FIRST", ["b", "lead", "c", "a"]),  # a, b, c rotate round the lead at position 1
    ("LAST_TO_FIRST", ["c", "lead", "a", "b"]),
])
def test_an_excluded_member_keeps_its_place_in_the_middle(direction, expected):
    written = timeline("a", ("lead", 5), ("b", 5), ("c", 5))
    assert [e.member for e in rotate(written, Rotation(direction, exclude=frozenset({"lead"})), 1)] == expected


NIGHTS_ACROSS_SPRING = shift(
    "Nights", "2026-03-16T17:00", "2026-03-17T09:00", {"frequency": "DAILY"},
    timeline("a", ("b", 15), ("c", 15)), Rotation("SECOND_TO_FIRST", "INTERVAL", 168))


@pytest.mark.parametrize("at, step, expected", [
    ("2026-03-17T01:00", 0, [(0, ["a"]), (15, ["b"]), (30, ["c"])]),  # 02:00 CET, 9 h in
    ("2026-03-23T16:00", 1, [(0, ["b"]), (15, ["c"]), (30, ["a"])]),  # Mon 17:00 CET: 168 h
    ("2026-03-30T06:59", 1, [(0, ["b"]), (15, ["c"]), (30, ["a"])]),  # Mon 08:59 CEST
    # Mon 17:00 CEST is 336 wall-clock hours after the first start (335 real): the handover
    # keeps its local hour across the change
    ("2026-03-30T15:00", 2, [(0, ["c"]), (15, ["a"]), (30, ["b"])]),
    ("2026-03-30T15:30", 2, [(0, ["c"]), (15, ["a"]), (30, ["b"])]),
    ("2026-04-06T15:00", 3, [(0, ["a"]), (15, ["b"]), (30, ["c"])]),  # three steps: back round
])
def test_interval_rotation_across_weeks_and_the_spring_change(at, step, expected):
    on_call = resolve_on_call(group(NIGHTS_ACROSS_SPRING), z(at))
    assert on_call.shifts[0].rotation_step == step and plan(on_call) == expected


@pytest.mark.parametrize("at, step", [
    # 24 h handovers at 02:30, which on 10-25 happens twice (00:30Z CEST, 01:30Z CET)
    ("2026-10-25T00:29", 0),
    ("2026-10-25T00:30", 1),  # the first 02:30: handover
    ("2026-10-25T01:15", 1),  # 02:15 CET, the clock reads before 02:30 again: no step back
    ("2026-10-25T01:45", 1),  # 02:45 CET
    ("2026-10-26T01:30", 2),  # 02:30 CET the next day
])
def test_interval_rotation_does_not_step_back_in_the_repeated_hour(at, step):
    daily = shift("Daily", "2026-10-24T02:30", "2026-10-25T02:30", {"frequency": "DAILY"},
                  timeline("a", ("b", 5)), Rotation("SECOND_TO_FIRST", "INTERVAL", 24))
    occurrence = daily.window("Europe/Berlin").active_at(z(at))
    assert rotation_step(daily, occurrence, z(at), "Europe/Berlin") == step


ALERT_ROTATED = always(timeline("a", ("b", 5), ("c", 5)), Rotation("SECOND_TO_FIRST", "ALERT"))


@pytest.mark.parametrize("sequence, first", [(0, "a"), (1, "b"), (2, "c"), (3, "a"), (1000, "b")])
def test_alert_rotation_follows_the_sequence_number(sequence, first):
    on_call = resolve_on_call(group(ALERT_ROTATED), z("2026-12-07T10:00"), alert_sequence=sequence)
    assert plan(on_call)[0] == (0, [first])  # 1000 % 3 = 1


@pytest.mark.parametrize("counter", [0, 1, 41])
def test_concurrent_alerts_with_distinct_sequence_numbers_page_distinct_people(counter):
    # Three alerts at once take counter, counter+1, counter+2 from the atomic counter: between
    # them they start with each of the three members once.
    at = z("2026-12-07T10:00")
    firsts = [plan(resolve_on_call(group(ALERT_ROTATED), at, alert_sequence={"Always": n}))[0][1][0]
              for n in range(counter, counter + 3)]
    assert sorted(firsts) == ["a", "b", "c"]


def test_alert_rotation_needs_a_sequence_number_and_says_which_shifts_take_one():
    shifts = group(ALERT_ROTATED, always(timeline("x", "y"), Rotation("SECOND_TO_FIRST", "SHIFT"), "Other"))
    assert alert_rotated_shifts(shifts, z("2026-12-07T10:00")) == ["Always"]
    with pytest.raises(ValueError, match="Always"):
        resolve_on_call(shifts, z("2026-12-07T10:00"))


# --- overrides ---------------------------------------------------------------------------

OVERRIDDEN = (
    shift("Business hours", "2026-12-07T09:00", "2026-12-07T17:00", WORKDAYS,
          timeline("bsmith", ("jdoe", 10), ("DBA Managers", 50, GROUP))),
    shift("Nights", "2026-12-07T17:00", "2026-12-08T09:00", {"frequency": "DAILY"},
          timeline("bsmith", ("oncall-b", 20))))
LUNCH = (berlin("2026-12-07T12:00"), berlin("2026-12-07T14:00"))  # Monday 12:00-14:00
MONDAY = (berlin("2026-12-07T00:00"), berlin("2026-12-08T00:00"))
AS_WRITTEN = [(0, ["bsmith"]), (10, ["jdoe"]), (60, ["DBA Managers"])]
CAROL_FIRST = [(0, ["carol"]), (10, ["jdoe"]), (60, ["DBA Managers"])]


@pytest.mark.parametrize("overrides, at, shift_name, expected", [
    # carol covers bsmith over lunch only: [12:00, 14:00)
    ([Override(*LUNCH, "bsmith", "carol")], "2026-12-07T11:59", "Business hours", AS_WRITTEN),
    ([Override(*LUNCH, "bsmith", "carol")], "2026-12-07T12:00", "Business hours", CAROL_FIRST),
    ([Override(*LUNCH, "bsmith", "carol")], "2026-12-07T13:59", "Business hours", CAROL_FIRST),
    ([Override(*LUNCH, "bsmith", "carol")], "2026-12-07T14:00", "Business hours", AS_WRITTEN),
    # no replacement: bsmith is skipped and nobody waits for him; jdoe at once, managers 50 min later
    ([Override(*LUNCH, "bsmith")], "2026-12-07T12:30", "Business hours", [(0, ["jdoe"]), (50, ["DBA Managers"])]),
    # scoped to Business hours: Nights keeps bsmith
    ([Override(*MONDAY, "bsmith", "carol", "Business hours")], "2026-12-07T10:00", "Business hours", CAROL_FIRST),
    ([Override(*MONDAY, "bsmith", "carol", "Business hours")], "2026-12-07T20:00", "Nights",
     [(0, ["bsmith"]), (20, ["oncall-b"])]),
    # an all-shift override and a shift's own one: the shift's own wins there, the other elsewhere
    ([Override(*MONDAY, "bsmith", "jdoe"), Override(*MONDAY, "bsmith", "carol", "Business hours")],
     "2026-12-07T10:00", "Business hours", CAROL_FIRST),
    ([Override(*MONDAY, "bsmith", "jdoe"), Override(*MONDAY, "bsmith", "carol", "Business hours")],
     "2026-12-07T20:00", "Nights", [(0, ["jdoe"]), (20, ["oncall-b"])]),
    # two all-shift overrides: the one that started later wins while it lasts
    ([Override(*MONDAY, "bsmith", "xavier"), Override(*LUNCH, "bsmith", "carol")], "2026-12-07T12:30",
     "Business hours", CAROL_FIRST),
    ([Override(*MONDAY, "bsmith", "xavier"), Override(*LUNCH, "bsmith", "carol")], "2026-12-07T15:00",
     "Business hours", [(0, ["xavier"]), (10, ["jdoe"]), (60, ["DBA Managers"])]),
    # a replacement already in the timeline is paged at both positions
    ([Override(*LUNCH, "bsmith", "jdoe")], "2026-12-07T12:30", "Business hours",
     [(0, ["jdoe"]), (10, ["jdoe"]), (60, ["DBA Managers"])]),
    ([Override(*LUNCH, "nobody-here", "carol")], "2026-12-07T12:30", "Business hours", AS_WRITTEN),
])
def test_overrides(overrides, at, shift_name, expected):
    on_call = resolve_on_call(group(*OVERRIDDEN, overrides=overrides), berlin(at))
    assert plan(on_call, shift_name) == expected


def test_an_unavailable_replacement_is_skipped_too():
    on_call = resolve_on_call(group(*OVERRIDDEN, overrides=[Override(*LUNCH, "bsmith", "carol")]),
                              berlin("2026-12-07T12:30"), available=lambda name: name != "carol")
    assert plan(on_call) == [(0, ["jdoe"]), (50, ["DBA Managers"])]


def test_overrides_need_instants():
    with pytest.raises(ValueError):
        Override(datetime(2026, 12, 7, 12), datetime(2026, 12, 7, 14), "bsmith")


# --- availability and waves ---------------------------------------------------------------

@pytest.mark.parametrize("members, unavailable, expected", [
    # A(0) B(+10) C(+10): as written A at 0, B at 10, C at 20
    (timeline("A", ("B", 10), ("C", 10)), set(), [(0, ["A"]), (10, ["B"]), (20, ["C"])]),
    # B skipped: no one to wait for after A's 10 minutes, so C at 10
    (timeline("A", ("B", 10), ("C", 10)), {"B"}, [(0, ["A"]), (10, ["C"])]),
    # A skipped: B at once (nobody was given 10 minutes), C 10 minutes after B
    (timeline("A", ("B", 10), ("C", 10)), {"A"}, [(0, ["B"]), (10, ["C"])]),
    (timeline("A", ("B", 10), ("C", 10)), {"A", "B"}, [(0, ["C"])]),
    (timeline("A", ("B", 10), ("C", 10)), {"C"}, [(0, ["A"]), (10, ["B"])]),
    # A and B share a wave: B alone keeps the wave, so C still waits 10
    (timeline("A", "B", ("C", 10)), {"A"}, [(0, ["B"]), (10, ["C"])]),
    (timeline("A", "B", ("C", 10)), {"A", "B"}, [(0, ["C"])]),
    # a first delay counts from the start and stays when the first wave is empty
    (timeline(("A", 5), ("B", 10)), {"A"}, [(5, ["B"])]),
    # a nested group is never "unavailable" here: the caller expands it
    (timeline("A", ("Managers", 30, GROUP)), {"A"}, [(0, ["Managers"])]),
])
@pytest.mark.parametrize("form", ["callable", "collection"])
def test_unavailable_users_are_skipped_with_no_wait(members, unavailable, expected, form):
    everyone = {"A", "B", "C", "ops-lead"}
    available = (lambda name: name not in unavailable) if form == "callable" else everyone - unavailable
    on_call = resolve_on_call(group(always(members)), z("2026-12-07T10:00"), available=available)
    assert plan(on_call) == expected and on_call.fallback == ()


def test_nobody_available_in_a_shift_brings_the_fallback():
    on_call = resolve_on_call(group(always(timeline("A", ("B", 5)))), z("2026-12-07T10:00"), available={"ops-lead"})
    assert plan(on_call) == [] and on_call.fallback == (Recipient("ops-lead"),)
    assert on_call.fallback_reason == "nobody is available in Always"


def test_the_fallback_is_filtered_too_so_the_caller_sees_nobody():
    on_call = resolve_on_call(group(always(timeline("A"))), z("2026-12-07T10:00"), available=set())
    assert on_call.fallback == () and on_call.fallback_reason == "nobody is available in Always"


def test_one_empty_shift_of_two_brings_the_fallback_and_keeps_the_other():
    shifts = group(always(timeline("A")), always(timeline("B"), name="Second"))
    on_call = resolve_on_call(shifts, z("2026-12-07T10:00"), available={"B", "ops-lead"})
    assert plan(on_call, "Second") == [(0, ["B"])] and plan(on_call, "Always") == []
    assert on_call.fallback == (Recipient("ops-lead"),)
    assert on_call.fallback_reason == "nobody is available in Always"


def test_it_wants_an_instant():
    with pytest.raises(ValueError):
        resolve_on_call(SPEC_GROUP, datetime(2026, 12, 7, 10))


# --- nested groups --------------------------------------------------------------------------

P = Recipient
MEMBERS = {
    "DBA Managers": [P("mgr1"), P("Ops", GROUP), P("mgr2")],
    "Ops": [P("ops1"), P("DBA Managers", GROUP), P("mgr1")],  # a cycle back to DBA Managers
    "Loop": [P("Loop", GROUP), P("x")],                       # a group in itself
    "Empty": [],
}


@pytest.mark.parametrize("recipients, available, expected", [
    # depth first, each user once: DBA Managers -> mgr1, Ops -> ops1, (DBA Managers: seen), mgr1 (seen); mgr2
    ([P("bsmith"), P("DBA Managers", GROUP)], None, ["bsmith", "mgr1", "ops1", "mgr2"]),
    ([P("Loop", GROUP)], None, ["x"]),
    ([P("Unknown", GROUP), P("Empty", GROUP)], None, []),
    ([P("DBA Managers", GROUP)], {"mgr2", "ops1"}, ["ops1", "mgr2"]),
    ([P("Ops", GROUP), P("ops1", PERSON)], None, ["ops1", "mgr1", "mgr2"]),
])
def test_nested_groups_expand_with_cycle_protection(recipients, available, expected):
    assert expand_groups(recipients, MEMBERS.get, available) == expected


def test_a_deep_chain_of_groups_expands_without_recursion():
    chain = {f"g{i}": [P(f"g{i + 1}", GROUP)] for i in range(5000)} | {"g5000": [P("last")]}
    assert expand_groups([P("g0", GROUP)], chain.get) == ["last"]


def test_a_resolved_wave_expands_to_users():
    wave = resolve_on_call(SPEC_GROUP, berlin("2026-12-07T10:00")).shifts[0].waves[2]
    assert wave.delay_minutes == 60 and expand_groups(wave.recipients, MEMBERS.get) == ["mgr1", "ops1", "mgr2"]
