"""Alert status changes, annotations, the timeline and expiry (SPEC §3)."""
from __future__ import annotations

from extensions import db
from models import OPEN_STATUSES, Alert, TimelineEntry, utcnow

from .events import emit

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


def add_timeline(alert: Alert, type_: str, actor: str | None = None, **detail) -> TimelineEntry:
    """Append one entry to the alert's timeline (in the current transaction)."""
    entry = TimelineEntry(alert_id=alert.id, type=type_, actor=actor, detail=detail, at=utcnow())
    db.session.add(entry)
    return entry


def change_status(alert: Alert, status: str, actor: str | None = None, reason: str | None = None) -> bool:
    """Move the alert to ``status``, record it and emit ``alert.status``; False if already there."""
    if status == alert.status:
        return False
    if status not in TRANSITIONS.get(alert.status, ()):
        raise InvalidTransition(f"status: cannot change a {alert.status} alert to {status}")
    alert.status = status
    alert.updated_at = utcnow()
    if status in ("TERMINATED", "TERMINATED_EXTERNAL"):
        alert.terminated_at = alert.updated_at
    add_timeline(alert, TIMELINE_FOR[status], actor=actor, status=status, reason=reason)
    emit(alert, "alert.status", status=status, username=actor)
    return True


def annotate(alert: Alert, comment: str, actor: str | None = None) -> TimelineEntry:
    """Add a comment to the alert's timeline."""
    return add_timeline(alert, "EVENT_ANNOTATED", actor=actor, comment=comment)


def sweep_expired(now) -> int:
    """Terminate open alerts whose expiry has passed (status TERMINATED, by the system)."""
    ids = [row.id for row in db.session.query(Alert.id)
           .filter(Alert.status.in_(OPEN_STATUSES), Alert.expires_at <= now).limit(500)]
    for alert_id in ids:
        alert = db.session.get(Alert, alert_id)
        if alert and alert.is_open and alert.expires_at and alert.expires_at <= now:
            change_status(alert, "TERMINATED", reason="expired")
            db.session.commit()
    return len(ids)
