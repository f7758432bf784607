"""An on-call group's definition (SPEC §9) as small frozen values that rows are turned into.

Field names follow the API (``delayMinutes`` -> ``delay_minutes``). Instants are aware
datetimes; shift ``start``/``end`` are naive wall-clock times in the group's ``timezone``.
These check only what would make the resolver wrong (ValueError); request validation, which
names the field, is the API's (``alerting.recurrence`` parses the ``recurrence`` object).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from alerting.recurrence import Recurrence, RecurringWindow

PERSON, GROUP = "PERSON", "GROUP"  # the words of alerting.validation.RECIPIENT_TYPES
DIRECTIONS = ("SECOND_TO_FIRST", "LAST_TO_FIRST", "NONE")
ROTATE_EVERY = ("SHIFT", "ALERT", "INTERVAL")


@dataclass(frozen=True)
class Recipient:
    """A user (PERSON, by username) or a nested group (GROUP, by name)."""

    name: str
    recipient_type: str = PERSON

    def __post_init__(self):
        if self.recipient_type not in (PERSON, GROUP):
            raise ValueError(f"recipient_type must be {PERSON} or {GROUP}, not {self.recipient_type!r}")


@dataclass(frozen=True)
class TimelineEntry:
    """A timeline position: its member and the delay after the previous position."""

    member: str
    delay_minutes: int = 0
    recipient_type: str = PERSON
    recipient: Recipient = field(init=False, repr=False, compare=False)  # made once, read per query

    def __post_init__(self):
        if self.delay_minutes < 0:
            raise ValueError("delay_minutes must not be negative")
        object.__setattr__(self, "recipient", Recipient(self.member, self.recipient_type))


@dataclass(frozen=True)
class Rotation:
    """``exclude``: member names that keep their positions while the others rotate."""

    direction: str = "NONE"
    every: str = "SHIFT"
    interval_hours: int | None = None
    exclude: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self):
        if self.direction not in DIRECTIONS or self.every not in ROTATE_EVERY:
            raise ValueError(f"rotation direction {self.direction!r} / every {self.every!r} is unknown")
        if self.every == "INTERVAL" and self.direction != "NONE" and not (self.interval_hours or 0) > 0:
            raise ValueError("an INTERVAL rotation needs interval_hours > 0")
        object.__setattr__(self, "exclude", frozenset(self.exclude))


@dataclass(frozen=True)
class Repeat:
    """Restart an unanswered timeline ``after_minutes`` after it ends, at most ``times`` times."""

    after_minutes: int = 0
    times: int = 0


@dataclass(frozen=True)
class Shift:
    """A named recurring window with its timeline, rotation and repeat."""

    name: str
    start: datetime
    end: datetime
    recurrence: Recurrence | None
    timeline: tuple[TimelineEntry, ...]
    rotation: Rotation = Rotation()
    repeat: Repeat = Repeat()

    def window(self, timezone: str) -> RecurringWindow:
        """The shift's recurring window in the group's timezone (equal shifts share one index)."""
        return RecurringWindow(self.start, self.end, timezone, self.recurrence)


@dataclass(frozen=True)
class Override:
    """``replacement`` takes ``member``'s place in [start, end) (None: the member is skipped).

    ``shift`` limits it to the shift of that name; None covers every shift of the group.
    """

    start: datetime
    end: datetime
    member: str
    replacement: str | None = None
    shift: str | None = None

    def __post_init__(self):
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("override start and end are instants: pass aware datetimes")

    def covers(self, shift_name: str, at: datetime) -> bool:
        """True when this override applies to ``shift_name`` at the instant ``at``."""
        return (self.shift is None or self.shift == shift_name) and self.start <= at < self.end


@dataclass(frozen=True)
class OnCallGroup:
    """A group with shifts; ``fallback`` is notified when no shift is active or one has nobody."""

    name: str
    timezone: str
    shifts: tuple[Shift, ...]
    fallback: tuple[Recipient, ...] = ()
    overrides: tuple[Override, ...] = ()
