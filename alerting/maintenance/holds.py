"""Alerts held quiet by a maintenance window, and their release when it ends (SPEC §10).

An alert created inside a window is stored and shown, sends its status updates, and notifies
nobody: it is ``suppressed`` (dispatch makes no notifications) and has a MaintenanceHold row.
With ``notifyOnEnd`` the hold is released at the end of the window's occurrence: one
conditional UPDATE of ``released_at`` claims it (so it happens once on any number of workers),
and in the same transaction an alert still ACTIVE is made dispatchable again, then dispatched
exactly once by dispatch's own claim of ``dispatched_at``. The sweeper is the bell: a release
lost to a crash is found again on its next pass, because the hold row says it is due.
"""
from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import update

from alerting import jobs
from alerting.alerts import config_cache
from alerting.alerts.lifecycle import add_timeline
from alerting.maintenance import windows
from extensions import db
from models import Alert, Configuration, MaintenanceHold, MaintenanceWindow, utcnow

BATCH = 200
# on a just-created Alert: the MaintenanceHold this session gave it, or None (no query needed)
NEW_HOLD = "_klaxon_new_hold"


def hold_if_in_window(alert: Alert, cfg: Configuration) -> MaintenanceWindow | None:
    """Hold a just-created alert quiet if a window covers its configuration now; the window, or None."""
    found = _active_for(cfg, datetime.now(UTC))
    if found is None:
        setattr(alert, NEW_HOLD, None)
        return None
    window, ends = found
    hold = MaintenanceHold(alert_id=alert.id, window_id=window.id, window_name=window.name,
                           notify_on_end=window.notify_on_end, flooded=bool(alert.suppressed),
                           ends_at=windows.naive(ends), created_at=utcnow())
    db.session.add(hold)
    setattr(alert, NEW_HOLD, hold)
    alert.suppressed = True
    later = " Its recipients are notified when the window ends if it is still active." if window.notify_on_end else ""
    add_timeline(alert, "EVENT_ANNOTATED", actor="klaxon",
                 comment=f"Maintenance window “{window.name}”: nobody is notified.{later}")
    return window


def _active_for(cfg: Configuration, at: datetime) -> tuple[MaintenanceWindow, datetime] | None:
    """windows.active_for, over the windows of the process's cache in a group-commit batch (read
    again only when the configuration version changed: alerting/alerts/config_cache.py)."""
    return windows.active_for(cfg, at, config_cache.windows())


def hold_of(alert: Alert) -> MaintenanceHold | None:
    """The alert's hold: the one this session gave a just-created alert (no query), else read."""
    known = getattr(alert, NEW_HOLD, False)
    if known is not False:
        return known
    return db.session.get(MaintenanceHold, alert.id)


def window_of(alert_ids: list[int]) -> dict[int, tuple[int | None, str]]:
    """{alert id: (window id, window name)} for the held alerts among ``alert_ids`` (one query)."""
    if not alert_ids:
        return {}
    rows = db.session.query(MaintenanceHold.alert_id, MaintenanceHold.window_id, MaintenanceHold.window_name) \
        .filter(MaintenanceHold.alert_id.in_(alert_ids))
    return {alert_id: (window_id, name) for alert_id, window_id, name in rows}


def window_changed(window: MaintenanceWindow) -> None:
    """The window ends at another time: its unreleased holds end with the occurrence they arrived in."""
    now = datetime.now(UTC)
    for hold in db.session.query(MaintenanceHold).filter_by(window_id=window.id, released_at=None):
        occurrence = windows.occurrence_at(window, windows.aware(hold.created_at))
        hold.ends_at = windows.naive(windows.ends_at(window, occurrence)) if occurrence else min(
            hold.ends_at, windows.naive(now))


def window_deleted(window: MaintenanceWindow) -> None:
    """A deleted window is over now: its unreleased holds fall due (the sweeper releases them)."""
    now = utcnow()
    db.session.execute(update(MaintenanceHold)
                       .where(MaintenanceHold.window_id == window.id, MaintenanceHold.released_at.is_(None),
                              MaintenanceHold.ends_at > now)
                       .values(ends_at=now).execution_options(synchronize_session=False))


def release(alert_id: int, now: datetime) -> bool:
    """Release one due hold (claimed by a conditional UPDATE); True if this call released it."""
    claimed = db.session.execute(
        update(MaintenanceHold)
        .where(MaintenanceHold.alert_id == alert_id, MaintenanceHold.released_at.is_(None),
               MaintenanceHold.ends_at <= now)
        .values(released_at=now).execution_options(synchronize_session=False)).rowcount
    if not claimed:
        db.session.rollback()
        return False
    hold = db.session.get(MaintenanceHold, alert_id)
    alert = db.session.get(Alert, alert_id)
    if hold.notify_on_end and alert is not None and alert.status == "ACTIVE" and not hold.flooded:
        alert.suppressed = False
        alert.dispatched_at = None  # dispatch claims it again, once
        add_timeline(alert, "EVENT_ANNOTATED", actor="klaxon",
                     comment=f"Maintenance window “{hold.window_name}” ended: notifying the recipients now.")
        jobs.DISPATCH_PENDING.ring_after_commit()
    db.session.commit()
    return True


def sweep(now: datetime) -> int:
    """Release the holds whose window has ended (the sweeper's part of SPEC §10's notifyOnEnd)."""
    due = [a for (a,) in db.session.query(MaintenanceHold.alert_id)
           .filter(MaintenanceHold.released_at.is_(None), MaintenanceHold.ends_at <= now)
           .order_by(MaintenanceHold.ends_at).limit(BATCH)]
    db.session.rollback()
    return sum(release(alert_id, now) for alert_id in due)
