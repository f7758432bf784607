"""Alert status changes, annotations, the timeline and expiry (SPEC §3)."""
from __future__ import annotations

from sqlalchemy.orm.attributes import set_committed_value

from alerting import events
from extensions import db
from models import OPEN_STATUSES, Alert, TimelineEntry, utcnow

TRANSITIONS = {
    "ACTIVE": {"SUSPENDED", "TERMINATED", "TERMINATED_EXTERNAL"},
    "SUSPENDED": {"ACTIVE", "TERMINATED", "TERMINATED_EXTERNAL"},
    "TERMINATED": set(),
    "TERMINATED_EXTERNAL": set(),
}
TIMELINE_FOR = {"SUSPENDED": "EVENT_SUSPENDED", "ACTIVE": "EVENT_RESUMED",
                "TERMINATED": "EVENT_TERMINATED", "TERMINATED_EXTERNAL": "EVENT_TERMINATED"}


class InvalidTransition(ValueError):
    """The alert cannot move to that status (e.g. it is already terminated)."""


def timeline_entry(alert: Alert, type_: str, actor: str | None = None, **detail) -> TimelineEntry:
    """A new entry of the alert's timeline, not yet in the session."""
    return TimelineEntry(alert_id=alert.id, type=type_, actor=actor[:64] if actor else actor,  # the column's size
                         detail=detail, at=utcnow())


def add_timeline(alert: Alert, type_: str, actor: str | None = None, **detail) -> TimelineEntry:
    """Append one entry to the alert's timeline (in the current transaction)."""
    entry = timeline_entry(alert, type_, actor, **detail)
    db.session.add(entry)
    return entry


def lock_alert(alert: Alert) -> Alert:
    """Lock the alert's row until the commit and read it again (SELECT … FOR UPDATE).

    Whoever changes an alert from what it was (a response, a status change) takes this first, so
    concurrent requests see each other's outcome instead of deciding on the same old status.
    """
    db.session.flush()
    return db.session.query(Alert).filter(Alert.id == alert.id).with_for_update().populate_existing().one()


def change_status(alert: Alert, status: str, actor: str | None = None, reason: str | None = None) -> bool:
    """Move the alert to ``status``, record it and publish StatusChanged; False if already there.

    The change is one conditional UPDATE (``WHERE status = <the status read>``): of concurrent
    changes from one status exactly one happens; the others see the new status.
    """
    if status == alert.status:
        return False
    if status not in TRANSITIONS.get(alert.status, ()):
        raise InvalidTransition(f"status: cannot change a {alert.status} alert to {status}")
    if not _swap_status(alert, status):
        db.session.refresh(alert, ["status"])
        return change_status(alert, status, actor, reason)
    add_timeline(alert, TIMELINE_FOR[status], actor=actor, status=status, reason=reason)
    events.publish(events.StatusChanged(alert, status, username=actor))
    return True


def _swap_status(alert: Alert, status: str) -> bool:
    """UPDATE the status only if it is still the one read; True if this call changed it."""
    now = utcnow()
    values = {"status": status, "updated_at": now}
    if status in ("TERMINATED", "TERMINATED_EXTERNAL"):
        values["terminated_at"] = now
    db.session.flush()
    changed = db.session.query(Alert).filter(Alert.id == alert.id, Alert.status == alert.status) \
        .update(values, synchronize_session=False)
    if changed:
        for name, value in values.items():
            set_committed_value(alert, name, value)
    return bool(changed)


def annotate(alert: Alert, comment: str, actor: str | None = None) -> TimelineEntry:
    """Add a comment to the alert's timeline and publish CommentAdded."""
    entry = add_timeline(alert, "EVENT_ANNOTATED", actor=actor, comment=comment)
    events.publish(events.CommentAdded(alert, comment, username=actor))
    return entry


def sweep_expired(now) -> int:
    """Terminate open alerts whose expiry has passed (status TERMINATED, by the system)."""
    ids = [row.id for row in db.session.query(Alert.id)
           .filter(Alert.status.in_(OPEN_STATUSES), Alert.expires_at <= now).limit(500)]
    for alert_id in ids:
        alert = db.session.get(Alert, alert_id)
        if alert and alert.is_open and alert.expires_at and alert.expires_at <= now:
            change_status(alert, "TERMINATED", actor="klaxon", reason="expired")
            db.session.commit()
    return len(ids)
