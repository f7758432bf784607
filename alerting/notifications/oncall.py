"""Who is on call (SPEC §9): a group's active shifts at an instant and each one's timeline.

Pure functions of a group definition and an instant, so the answer is the same on every
process. A shift's timeline is computed in this order: rotate (delays stay with positions,
members move through them), apply overrides active at the instant, drop users who are not
available (inactive, no enabled device), then form waves. A skipped member costs no wait: a
wave left empty gives its delay to the next wave, so nobody waits on someone never notified.

ALERT rotation contract: the caller passes ``alert_sequence``, the 0-based number of this alert
among the shift's alerts, taken from an atomic database counter in the alert's transaction
(``UPDATE … SET alert_sequence = alert_sequence + 1 … RETURNING alert_sequence - 1``), so two
concurrent alerts never get the same position. ``alert_rotated_shifts`` names the counters to
take. Nested groups stay GROUP entries; ``expand_groups`` expands them with cycle protection.
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from alerting.notifications.oncall_groups import (
    GROUP,
    PERSON,
    OnCallGroup,
    Override,
    Recipient,
    Repeat,
    Rotation,
    Shift,
    TimelineEntry,
)
from alerting.recurrence import Occurrence, instant_to_wall, wall_to_instant

Availability = Callable[[str], bool] | Collection[str] | None
AlertSequence = int | Mapping[str, int] | None

__all__ = ["GROUP", "PERSON", "ActiveShift", "OnCall", "OnCallGroup", "Override", "Recipient",
           "Repeat", "Rotation", "Shift", "TimelineEntry", "Wave", "active_shifts",
           "alert_rotated_shifts", "expand_groups", "resolve_on_call", "rotate", "rotation_step",
           "shift_timeline"]


@dataclass(frozen=True)
class Wave:
    """Recipients notified together, ``delay_minutes`` after the timeline starts."""

    delay_minutes: int
    recipients: tuple[Recipient, ...]


@dataclass(frozen=True)
class ActiveShift:
    """An active shift's occurrence and computed timeline; no waves means nobody is available."""

    name: str
    occurrence: Occurrence
    rotation_step: int
    waves: tuple[Wave, ...]
    repeat: Repeat


@dataclass(frozen=True)
class OnCall:
    """``fallback`` is filled (available members only) when no shift is active or one has nobody."""

    at: datetime
    shifts: tuple[ActiveShift, ...]
    fallback: tuple[Recipient, ...] = ()
    fallback_reason: str | None = None


def resolve_on_call(group: OnCallGroup, at: datetime, available: Availability = None,
                    alert_sequence: AlertSequence = None) -> OnCall:
    """The active shifts of ``group`` at the aware instant ``at``, each with its waves.

    ``available``: a callable ``username -> bool`` or a collection of available usernames
    (None: everyone). ``alert_sequence``: for ALERT rotation, an int or a map shift name -> int.
    """
    is_available = _availability(available)
    shifts = tuple(shift_timeline(group, shift, occurrence, at, is_available, alert_sequence)
                   for shift, occurrence in active_shifts(group, at))
    empty = [s.name for s in shifts if not s.waves]
    if shifts and not empty:
        return OnCall(at, shifts)
    reason = f"nobody is available in {', '.join(empty)}" if shifts else "no shift is active"
    fallback = tuple(r for r in dict.fromkeys(group.fallback) if _kept(r, is_available))
    return OnCall(at, shifts, fallback, reason)


def active_shifts(group: OnCallGroup, at: datetime) -> list[tuple[Shift, Occurrence]]:
    """Each shift with an occurrence covering ``at``, in the group's order."""
    if at.tzinfo is None:
        raise ValueError("pass an aware datetime (an instant), not a naive one")
    found = []
    for shift in group.shifts:
        occurrence = shift.window(group.timezone).active_at(at)
        if occurrence is not None:
            found.append((shift, occurrence))
    return found


def alert_rotated_shifts(group: OnCallGroup, at: datetime) -> list[str]:
    """Names of the shifts active at ``at`` that rotate every ALERT: take one counter value each."""
    return [s.name for s, _ in active_shifts(group, at) if _rotates(s.rotation) and s.rotation.every == "ALERT"]


def shift_timeline(group: OnCallGroup, shift: Shift, occurrence: Occurrence, at: datetime,
                   is_available: Callable[[str], bool] = lambda _: True,
                   alert_sequence: AlertSequence = None) -> ActiveShift:
    """One shift's rotated, override-applied, availability-filtered waves at ``at``."""
    step = rotation_step(shift, occurrence, at, group.timezone, alert_sequence)
    covering = _covering_overrides(group.overrides, shift.name, at)
    slots = [(entry.delay_minutes, _fill(entry, covering)) for entry in rotate(shift.timeline, shift.rotation, step)]
    return ActiveShift(shift.name, occurrence, step, _waves(slots, is_available), shift.repeat)


def rotation_step(shift: Shift, occurrence: Occurrence, at: datetime, timezone: str,
                  alert_sequence: AlertSequence = None) -> int:
    """How many places the timeline has rotated at ``at`` (0: as written)."""
    rotation = shift.rotation
    if not _rotates(rotation):
        return 0
    if rotation.every == "SHIFT":
        return occurrence.index  # occurrences since the shift's first start
    if rotation.every == "ALERT":
        return _sequence(shift.name, alert_sequence)
    return _intervals_elapsed(shift, at, timezone)


def rotate(timeline: Iterable[TimelineEntry], rotation: Rotation, step: int) -> list[TimelineEntry]:
    """The timeline after ``step`` rotations; excluded members and every delay keep their place."""
    entries = list(timeline)
    movable = [i for i, e in enumerate(entries) if e.member not in rotation.exclude]
    if not _rotates(rotation) or len(movable) < 2 or step % len(movable) == 0:
        return entries
    members = [entries[i] for i in movable]
    cut = step % len(members)
    if rotation.direction == "LAST_TO_FIRST":
        cut = len(members) - cut  # the last member comes to the front each step
    order = members[cut:] + members[:cut]  # SECOND_TO_FIRST: the first member goes to the end
    rotated = list(entries)
    for position, member in zip(movable, order, strict=True):
        rotated[position] = TimelineEntry(member.member, entries[position].delay_minutes, member.recipient_type)
    return rotated


def expand_groups(recipients: Iterable[Recipient], members_of: Callable[[str], Iterable[Recipient] | None],
                  available: Availability = None) -> list[str]:
    """Usernames of ``recipients`` with nested groups expanded depth-first, each user once.

    ``members_of(group_name)`` gives a group's members (users or groups; None if unknown). A
    group met again (a cycle, or reached twice) is skipped, so the expansion always ends.
    """
    is_available = _availability(available)
    users: dict[str, None] = {}
    seen_groups: set[str] = set()
    stack: list[Iterator[Recipient]] = [iter(recipients)]
    while stack:
        recipient = next(stack[-1], None)
        if recipient is None:
            stack.pop()
        elif recipient.recipient_type == GROUP:
            if recipient.name not in seen_groups:
                seen_groups.add(recipient.name)
                stack.append(iter(members_of(recipient.name) or ()))
        elif is_available(recipient.name):
            users.setdefault(recipient.name)
    return list(users)


def _rotates(rotation: Rotation) -> bool:
    return rotation.direction != "NONE"


def _sequence(shift_name: str, alert_sequence: AlertSequence) -> int:
    if isinstance(alert_sequence, Mapping):
        alert_sequence = alert_sequence.get(shift_name)
    if alert_sequence is None:
        raise ValueError(f"shift {shift_name!r} rotates every ALERT: pass its alert_sequence")
    return alert_sequence


def _intervals_elapsed(shift: Shift, at: datetime, timezone: str) -> int:
    """Whole ``intervalHours`` of wall-clock time since the first start, so handovers keep their hour."""
    window = shift.window(timezone)
    first = window.first()
    if first is None:
        return 0
    zone, every = window.zone, timedelta(hours=shift.rotation.interval_hours or 0)
    steps = max(0, (instant_to_wall(at, zone) - first.wall_start) // every)
    # In a repeated hour the clock reads earlier than the handover already passed; catch up.
    while wall_to_instant(first.wall_start + (steps + 1) * every, zone) <= at:
        steps += 1
    return steps


def _covering_overrides(overrides: Iterable[Override], shift_name: str, at: datetime) -> dict[str, Recipient | None]:
    """Member -> who takes their place at ``at`` (None: skipped), for the overrides covering it."""
    chosen: dict[str, Override] = {}
    for override in overrides:
        if override.covers(shift_name, at):
            current = chosen.get(override.member)
            # A shift's own override beats an all-shift one; then the one that started last wins.
            rank = (override.shift is not None, override.start)
            if current is None or rank > (current.shift is not None, current.start):
                chosen[override.member] = override
    return {member: None if o.replacement is None else Recipient(o.replacement, PERSON) for member, o in chosen.items()}


def _fill(entry: TimelineEntry, covering: dict[str, Recipient | None]) -> Recipient | None:
    """Who fills the entry's place: the member, a replacement, or None (skipped)."""
    if entry.recipient_type == PERSON and entry.member in covering:
        return covering[entry.member]
    return entry.recipient


def _waves(slots: list[tuple[int, Recipient | None]], is_available: Callable[[str], bool]) -> tuple[Wave, ...]:
    """Group positions into waves (a delay starts a new one); an empty wave passes its delay on."""
    planned: list[tuple[int, list[Recipient]]] = []
    for position, (delay, recipient) in enumerate(slots):
        if position == 0 or delay > 0:
            planned.append((delay, []))
        if recipient is not None:
            planned[-1][1].append(recipient)
    waves: list[Wave] = []
    elapsed, pending = 0, None
    for gap, recipients in planned:
        # Duplicates within a wave are one page; a member at two positions is paged at each.
        kept = [r for r in dict.fromkeys(recipients) if _kept(r, is_available)]
        if not kept:
            pending = gap if pending is None else pending  # nobody to wait for: keep the earlier delay
            continue
        elapsed += gap if pending is None else pending
        pending = None
        waves.append(Wave(elapsed, tuple(kept)))
    return tuple(waves)


def _kept(recipient: Recipient, is_available: Callable[[str], bool]) -> bool:
    return recipient.recipient_type != PERSON or is_available(recipient.name)


def _availability(available: Availability) -> Callable[[str], bool]:
    if available is None:
        return lambda _: True
    if callable(available):
        return available
    names = frozenset(available)
    return names.__contains__
