"""Creating alerts from a trigger, de-duplicating them, and showing them as JSON (SPEC §2, §3, §7)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from extensions import db
from models import OPEN_STATUSES, Alert, Configuration, Group, User, iso, new_uuid, utcnow

from .events import emit
from .lifecycle import add_timeline, change_status
from .queue import ring_after_commit
from .ratelimit import flooded

DEFAULT_EXPIRATION_MINUTES = 1440


@dataclass
class Outcome:
    """What one alert change did: the alert, and whether it was new, a duplicate or a status change."""
    alert: Alert | None
    action: str  # created | deduplicated | resolved | acknowledged | ignored
    unresolved: list = field(default_factory=list)

    @property
    def deduplicated(self):
        return self.action == "deduplicated"


def unresolved_recipients(recipients: list[dict]) -> list[dict]:
    """The recipients that name no known user, group or device (two queries, whatever the count)."""
    people = {r["id"].split("|", 1)[0] for r in recipients if r["recipientType"] in ("PERSON", "DEVICE")}
    groups = {r["id"] for r in recipients if r["recipientType"] == "GROUP"}
    known_people = {u for (u,) in db.session.query(User.username).filter(User.username.in_(people))} if people else set()
    known_groups = {g for (g,) in db.session.query(Group.name).filter(Group.name.in_(groups))} if groups else set()
    missing = []
    for r in recipients:
        name = r["id"].split("|", 1)[0] if r["recipientType"] != "GROUP" else r["id"]
        if name not in (known_groups if r["recipientType"] == "GROUP" else known_people):
            missing.append(r)
    return missing


def find_open_duplicate(cfg: Configuration, dedup_key: str) -> Alert | None:
    since = utcnow() - timedelta(minutes=cfg.dedup_window_minutes)
    return (db.session.query(Alert)
            .filter(Alert.configuration_id == cfg.id, Alert.dedup_key == dedup_key,
                    Alert.status.in_(OPEN_STATUSES), Alert.created_at >= since)
            .order_by(Alert.id.desc()).first())


def create_alert(cfg: Configuration, change, request_id: str | None = None, actor: str | None = None) -> Outcome:
    """Create the alert a trigger asks for, or count a duplicate; the caller commits."""
    if change.dedup_key and cfg.dedup_window_minutes > 0:
        existing = find_open_duplicate(cfg, change.dedup_key)
        if existing is not None:
            existing.duplicate_count = (existing.duplicate_count or 0) + 1
            return Outcome(existing, "deduplicated")
    recipients = change.recipients if change.recipients is not None else list(cfg.recipients or [])
    missing = unresolved_recipients(recipients)
    now = utcnow()
    minutes = change.expiration_minutes or DEFAULT_EXPIRATION_MINUTES
    alert = Alert(
        uuid=new_uuid(), request_id=request_id or new_uuid(), configuration_id=cfg.id, configuration=cfg,
        status="ACTIVE", priority=change.priority or cfg.priority or "MEDIUM",
        subject=change.subject or cfg.name, message=change.message or "",
        properties=dict(change.properties or {}), dedup_key=change.dedup_key, duplicate_count=0,
        recipients=recipients, unresolved_recipients=missing,
        response_options=change.response_options if change.response_options is not None
        else list(cfg.response_options or []),
        expires_at=now + timedelta(minutes=minutes), created_at=now, updated_at=now,
    )
    alert.suppressed = flooded(cfg, recipients)
    db.session.add(alert)
    db.session.flush()  # the eventIdentifier is the row id
    add_timeline(alert, "EVENT_CREATED", actor=actor, requestId=alert.request_id,
                 unresolvedRecipients=[r["id"] for r in missing])
    if alert.suppressed:
        add_timeline(alert, "EVENT_ANNOTATED", comment=f"Flood control: more than {cfg.flood_limit_per_minute} "
                     "alerts a minute to these recipients, so no one is notified of this one")
    emit(alert, "alert.created", username=actor)
    emit(alert, "alert.status", status="ACTIVE", username=actor)
    ring_after_commit("dispatch", "notify", "workers.notify.dispatch_pending")
    return Outcome(alert, "created", missing)


def close_by_dedup_key(cfg: Configuration, dedup_key: str | None, actor: str | None = None) -> Outcome:
    """A source said the problem is resolved: end the matching open alert."""
    alert = find_open_duplicate(cfg, dedup_key) if dedup_key else None
    if alert is None:
        return Outcome(None, "ignored")
    change_status(alert, "TERMINATED_EXTERNAL", actor=actor, reason="resolved by source")
    return Outcome(alert, "resolved")


def acknowledge_by_dedup_key(cfg: Configuration, dedup_key: str | None, actor: str | None = None) -> Outcome:
    """A source acknowledged the problem: stop notifying and escalating, keep the alert open."""
    alert = find_open_duplicate(cfg, dedup_key) if dedup_key else None
    if alert is None:
        return Outcome(None, "ignored")
    from .escalation import stop_all_targets

    stop_all_targets(alert)
    add_timeline(alert, "EVENT_ANNOTATED", actor=actor, comment="Acknowledged by the source")
    return Outcome(alert, "acknowledged")


def apply_change(cfg: Configuration, change, request_id: str | None = None, actor: str | None = None) -> Outcome:
    """Apply one parsed change (trigger, acknowledge or resolve) of an inbound request."""
    if change.action == "resolve":
        return close_by_dedup_key(cfg, change.dedup_key, actor)
    if change.action == "acknowledge":
        return acknowledge_by_dedup_key(cfg, change.dedup_key, actor)
    return create_alert(cfg, change, request_id, actor)


def to_json(alert: Alert, detail: bool = False) -> dict:
    data = {
        "alertId": alert.uuid, "eventIdentifier": alert.id, "status": alert.status, "priority": alert.priority,
        "subject": alert.subject, "message": alert.message, "properties": alert.properties,
        "dedupKey": alert.dedup_key, "duplicateCount": alert.duplicate_count,
        "configuration": alert.configuration.uuid if alert.configuration else None,
        "recipients": alert.recipients, "unresolvedRecipients": alert.unresolved_recipients,
        "responseOptions": alert.response_options, "suppressed": alert.suppressed,
        "createdAt": iso(alert.created_at), "updatedAt": iso(alert.updated_at),
        "expiresAt": iso(alert.expires_at), "terminatedAt": iso(alert.terminated_at),
    }
    if detail:
        from models import Notification, Response, TimelineEntry

        data["timeline"] = [{"type": t.type, "at": iso(t.at), "actor": t.actor, "detail": t.detail}
                            for t in db.session.query(TimelineEntry).filter_by(alert_id=alert.id)
                            .order_by(TimelineEntry.id)]
        data["notifications"] = [
            {"id": n.id, "recipient": n.recipient, "device": n.device_name, "deviceId": n.device_id,
             "kind": n.kind, "deliveryStatus": n.status, "attempts": n.attempts, "result": n.result,
             "createdAt": iso(n.created_at), "deliveredAt": iso(n.delivered_at)}
            for n in db.session.query(Notification).filter_by(alert_id=alert.id).order_by(Notification.id)]
        data["responses"] = [
            {"recipient": r.recipient, "device": r.device_name, "response": r.response, "action": r.action,
             "comment": r.comment, "at": iso(r.created_at)}
            for r in db.session.query(Response).filter_by(alert_id=alert.id).order_by(Response.id)]
    return data
