"""When to try an update webhook again (SPEC §4): full jitter over a schedule of seconds.

The schedule (``KLAXON_WEBHOOK_RETRY_SCHEDULE``, default ``0,5,300,1800,7200,18000,36000,36000``)
lists one delay per attempt: ``schedule[0]`` before the first attempt, ``schedule[n]`` the most
to wait before attempt ``n + 1``. Its length is the number of attempts a message gets.
``config.parse_schedule`` reads it.
"""
from __future__ import annotations

import random

# After a failure never retry in less than this (unless the schedule step itself is shorter).
MIN_DELAY_SECONDS = 0.5
# A Retry-After beyond this is held to it, so one header cannot park a message for months.
MAX_RETRY_AFTER_SECONDS = 24 * 3600


def next_delay(attempt_number: int, schedule, retry_after: float | None = None, rng=random) -> float | None:
    """Seconds to wait before the next attempt, or None when the attempts are used up (dead).

    ``attempt_number`` is how many attempts were already made (1 after the first failure).
    The rule, with ``base = schedule[attempt_number]``:

    - ``attempt_number >= len(schedule)``: None.
    - otherwise ``delay = max(min(0.5, base), rng.uniform(0, base))`` (full jitter, but never
      less than half a second after a failure unless the schedule asks for less);
    - with ``retry_after`` (from a 429/502/503/504), ``max(delay, min(retry_after, 86400))``.
    """
    if attempt_number < 0:
        raise ValueError(f"attempt_number must be 0 or more, got {attempt_number}")
    if attempt_number >= len(schedule):
        return None
    base = float(schedule[attempt_number])
    delay = max(min(MIN_DELAY_SECONDS, base), rng.uniform(0, base))
    if retry_after is not None:
        delay = max(delay, min(float(retry_after), MAX_RETRY_AFTER_SECONDS))
    return delay
