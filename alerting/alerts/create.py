"""Creating alerts from a trigger, de-duplicating them, and showing them as JSON (SPEC §2, §3, §7)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.dialects import postgresql, sqlite

from alerting import events, jobs
from alerting.alerts import callbacks, options, rows
from alerting.alerts.by_name import by_name
from alerting.alerts.lifecycle import add_timeline, change_status, timeline_entry
from alerting.alerts.ratelimit import flooded
from alerting.alerts.warnings import for_new_alert
from alerting.maintenance.holds import hold_if_in_window, window_of
from alerting.notifications.targets import stop_all_targets
from alerting.validation import RECIPIENT_TYPES
from extensions import db
from models import (
    OPEN_STATUSES,
    Alert,
    Configuration,
    DedupKey,
    Group,
    MaintenanceWindow,
    Notification,
    Response,
    TimelineEntry,
    User,
    iso,
    new_uuid,
    utcnow,
)

DEFAULT_EXPIRATION_MINUTES = 1440


@dataclass
class Outcome:
    """What one alert change did: the alert, and whether it was new, a duplicate or a status change."""
    alert: Alert | None
    action: str  # created | deduplicated | resolved | acknowledged | ignored
    unresolved: list = field(default_factory=list)
    warnings: list = field(default_factory=list)  # plain sentences for the 202 (SPEC §2)
    maintenance: MaintenanceWindow | None = None  # the window that holds a new alert quiet (SPEC §10)

    @property
    def deduplicated(self):
        return self.action == "deduplicated"


def unresolved_recipients(recipients: list[dict]) -> list[dict]:
    """The recipients that name no known user, group or device (two queries, whatever the count)."""
    people = {r["id"].split("|", 1)[0] for r in recipients if r["recipientType"] in ("PERSON", "DEVICE")}
    groups = {r["id"] for r in recipients if r["recipientType"] == "GROUP"}
    known_people = {u for (u,) in db.session.query(User.username).filter(User.username.in_(people))} \
        if people else set()
    known_groups = {g for (g,) in db.session.query(Group.name).filter(Group.name.in_(groups))} if groups else set()
    missing = []
    for r in recipients:
        if r["recipientType"] not in RECIPIENT_TYPES:  # e.g. an xMatters DYNAMIC_TEAM: no one Klaxon knows
            missing.append(r)
            continue
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


def integration_actor(cfg: Configuration) -> str:
    """Who changed an alert that arrived at (or was ended through) the integration URL (SPEC §4 ``username``)."""
    return f"integration:{cfg.name}"


def lock_dedup_key(cfg: Configuration, dedup_key: str) -> None:
    """Insert the (configuration, key) row if it is new, then lock it until the commit.

    Concurrent triggers of one key wait here one after the other, so the first creates the
    alert and the rest find it (on SQLite, BEGIN IMMEDIATE already serializes writers).
    """
    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    db.session.execute(insert(DedupKey.__table__).values(configuration_id=cfg.id, dedup_key=dedup_key)
                       .on_conflict_do_nothing())
    db.session.query(DedupKey).filter_by(configuration_id=cfg.id, dedup_key=dedup_key).with_for_update().one()


def count_duplicate(alert: Alert) -> None:
    """duplicateCount + 1 in the database itself, so concurrent duplicates each count."""
    db.session.query(Alert).filter(Alert.id == alert.id).update(
        {Alert.duplicate_count: Alert.duplicate_count + 1}, synchronize_session=False)
    db.session.expire(alert, ["duplicate_count"])


def create_alert(cfg: Configuration, change, request_id: str | None = None, actor: str | None = None) -> Outcome:
    """Create the alert a trigger asks for, or count a duplicate; the caller commits.

    ``actor`` is who asked (a person, a flow); None means the integration URL itself.
    """
    actor = actor or integration_actor(cfg)
    if change.dedup_key and cfg.dedup_window_minutes > 0:
        lock_dedup_key(cfg, change.dedup_key)
        existing = find_open_duplicate(cfg, change.dedup_key)
        if existing is not None:
            count_duplicate(existing)
            return Outcome(existing, "deduplicated")
    recipients = by_name(change.recipients) if change.recipients is not None else list(cfg.recipients or [])
    missing = unresolved_recipients(recipients)
    recipients = [r for r in recipients if r["recipientType"] in RECIPIENT_TYPES]  # only these become targets
    picked = options.for_alert(cfg, change.response_options)
    now = utcnow()
    minutes = change.expiration_minutes or DEFAULT_EXPIRATION_MINUTES
    alert = Alert(
        uuid=new_uuid(), request_id=request_id or new_uuid(), configuration_id=cfg.id, configuration=cfg,
        status="ACTIVE", priority=change.priority or cfg.priority or "MEDIUM",
        subject=change.subject or cfg.name, message=change.message or "",
        properties=dict(change.properties or {}), dedup_key=change.dedup_key, duplicate_count=0,
        recipients=recipients, unresolved_recipients=missing,
        response_options=picked.options, escalation_override=change.escalation_override,
        expires_at=now + timedelta(minutes=minutes), created_at=now, updated_at=now,
    )
    alert.suppressed = flooded(cfg, recipients)
    rows.insert(alert)  # the eventIdentifier is the row id
    rows.insert(timeline_entry(alert, "EVENT_CREATED", actor=actor, requestId=alert.request_id,
                               unresolvedRecipients=[r["id"] for r in missing]))
    if alert.suppressed:
        rows.insert(timeline_entry(alert, "EVENT_ANNOTATED", comment=f"Flood control: more than "
                                   f"{cfg.flood_limit_per_minute} alerts a minute to these recipients, so no one "
                                   "is notified of this one"))
    callbacks.subscribe(alert, change.callbacks)  # before the events: the creation's status update goes to them too
    events.publish(events.AlertCreated(alert, username=actor))
    events.publish(events.StatusChanged(alert, "ACTIVE", username=actor))
    window = hold_if_in_window(alert, cfg)
    jobs.DISPATCH_PENDING.ring_after_commit()
    return Outcome(alert, "created", missing, picked.warnings + for_new_alert(alert, missing), maintenance=window)


def close_by_dedup_key(cfg: Configuration, dedup_key: str | None, actor: str | None = None) -> Outcome:
    """A source said the problem is resolved: end the matching open alert."""
    alert = find_open_duplicate(cfg, dedup_key) if dedup_key else None
    if alert is None:
        return Outcome(None, "ignored")
    change_status(alert, "TERMINATED_EXTERNAL", actor=actor or integration_actor(cfg), reason="resolved by source")
    return Outcome(alert, "resolved")


def acknowledge_by_dedup_key(cfg: Configuration, dedup_key: str | None, actor: str | None = None) -> Outcome:
    """A source acknowledged the problem: stop notifying and escalating, keep the alert open."""
    alert = find_open_duplicate(cfg, dedup_key) if dedup_key else None
    if alert is None:
        return Outcome(None, "ignored")
    stop_all_targets(alert)
    add_timeline(alert, "EVENT_ANNOTATED", actor=actor or integration_actor(cfg), comment="Acknowledged by the source")
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
        "maintenance": window_of([alert.id]).get(alert.id, (None,))[0],
    }
    if detail:
        data["callbacks"] = [callbacks.to_json(endpoint) for endpoint in callbacks.of_alert(alert)]
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
