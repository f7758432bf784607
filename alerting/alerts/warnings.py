"""The ``warnings`` of a 202 (SPEC §2): plain sentences telling the sender an alert will notify nobody.

Each check is a function of the new alert and its unresolved recipients returning a sentence or
None; add a check to CHECKS (maintenance windows, for one) and every trigger reports it.
"""
from __future__ import annotations

from collections.abc import Callable

from alerting.maintenance.holds import hold_of
from models import Alert


def no_recipients(alert: Alert, unresolved: list) -> str | None:
    """Neither the trigger nor the configuration names anyone."""
    if alert.recipients or unresolved:
        return None
    return ("This alert has no recipients (none in the trigger, none on the configuration), "
            "so no one will be notified.")


def none_resolved(alert: Alert, unresolved: list) -> str | None:
    """Every recipient named is unknown to Klaxon."""
    known = [r for r in alert.recipients or [] if r not in unresolved]
    if not unresolved or known:
        return None
    names = ", ".join(repr(r["id"]) for r in unresolved[:5]) + (" …" if len(unresolved) > 5 else "")
    return (f"None of this alert's recipients ({names}) is a user, group or device in Klaxon, "
            "so no one will be notified.")


def flood_held(alert: Alert, unresolved: list) -> str | None:
    """Flood control holds this alert's messages."""
    hold = hold_of(alert)
    if not alert.suppressed or (hold is not None and not hold.flooded):  # only the window holds it
        return None
    return "Flood control holds this alert: its recipients got too many alerts this minute, so no one will be notified."


def in_maintenance(alert: Alert, unresolved: list) -> str | None:
    """A maintenance window holds this alert quiet (SPEC §10; alerting.maintenance.holds)."""
    hold = hold_of(alert)
    if hold is None:
        return None
    later = (" Its recipients will be notified when the window ends if it is still active."
             if hold.notify_on_end else "")
    return (f"The alert arrived in maintenance window “{hold.window_name}” (id {hold.window_id}), "
            f"so no one will be notified.{later}")


CHECKS: list[Callable[[Alert, list], str | None]] = [no_recipients, none_resolved, flood_held, in_maintenance]


def for_new_alert(alert: Alert, unresolved: list) -> list[str]:
    """Every warning that applies to a just-created ``alert`` (``unresolved``: its unresolved recipients)."""
    return [sentence for check in CHECKS if (sentence := check(alert, unresolved))]
