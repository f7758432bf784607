"""Who an alert notifies, and when (SPEC §3).

Each recipient entry of an alert (PERSON, GROUP or DEVICE) becomes one AlertTarget row that
records who is due next: ``next_position`` (the next member of an escalate-in-order group) and
``next_at`` (when). A device is notified at most once per alert, however many entries name it,
and a user who answered with STOP_NOTIFYING_USER is not notified again.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import bindparam, select
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.attributes import set_committed_value

from alerting import events
from alerting.alerts.lifecycle import add_timeline
from extensions import db
from models import Alert, AlertTarget, Device, Group, Notification, Response, User

ESCALATING = "escalate-in-order"


def make_targets(alert) -> list[AlertTarget]:
    """One AlertTarget per recipient entry of the alert (unknown names included, as done targets)."""
    group_names = [r["id"] for r in alert.recipients or [] if r["recipientType"] == "GROUP"]
    groups = {g.name: g.id for g in db.session.query(Group).filter(Group.name.in_(group_names))} \
        if group_names else {}
    targets = []
    for r in alert.recipients or []:
        target = AlertTarget(alert_id=alert.id, recipient_type=r["recipientType"], recipient_id=r["id"],
                             group_id=groups.get(r["id"]) if r["recipientType"] == "GROUP" else None,
                             next_position=0, state="active")
        db.session.add(target)
        targets.append(target)
    db.session.flush()
    return targets


def notified_device_ids(alert_id: int) -> set[int]:
    """Devices that already have a notification for this alert."""
    return {d for (d,) in db.session.query(Notification.device_id)
            .filter(Notification.alert_id == alert_id, Notification.device_id.isnot(None))}


STOPPED = (Response.action == "STOP_NOTIFYING_USER", Response.user_id.isnot(None))  # a user's "stop notifying me"


def stopped_user_ids(alert_id: int) -> set[int]:
    """Users who asked not to be notified of this alert any more."""
    return {u for (u,) in db.session.query(Response.user_id).filter(Response.alert_id == alert_id, *STOPPED)}


# built once (every dispatch round runs it): a statement built per call pays its cache key each time
STOPPED_BY_ALERT = select(Response.alert_id, Response.user_id).where(
    Response.alert_id.in_(bindparam("alert_ids", expanding=True)), *STOPPED)


def stopped_user_ids_by_alert(alert_ids: list[int]) -> dict[int, set[int]]:
    """stopped_user_ids of several alerts in one query (a dispatch batch); alerts with none are absent."""
    found: dict[int, set[int]] = {}
    if alert_ids:
        for alert_id, user_id in db.session.execute(STOPPED_BY_ALERT, {"alert_ids": list(alert_ids)}):
            found.setdefault(alert_id, set()).add(user_id)
    return found


def enabled_devices(user: User | None) -> list[Device]:
    """The user's enabled devices in order; none for a missing or deactivated user."""
    if user is None or not user.active:
        return []
    devices = [d for d in sorted(user.devices, key=lambda d: (d.position, d.id)) if d.enabled]
    for device in devices:
        set_committed_value(device, "user", user)  # spares one lazy load per device in a large group
    return devices


def _person(target: AlertTarget) -> list[Device]:
    user = db.session.query(User).filter_by(username=target.recipient_id).first()
    return enabled_devices(user)


def _device(target: AlertTarget) -> list[Device]:
    username, _, name = target.recipient_id.partition("|")
    user = db.session.query(User).filter_by(username=username).first()
    return [d for d in enabled_devices(user) if d.name.lower() == name.strip().lower()]


def _next_member(target: AlertTarget, group: Group, stopped: set[int]) -> tuple[User | None, list[Device]]:
    """The next member of an escalating group with an enabled device, moving ``next_position`` past them."""
    members = group.members
    while target.next_position < len(members):
        member = members[target.next_position]
        target.next_position += 1
        devices = enabled_devices(member.user)
        if member.user_id not in stopped and devices:
            return member.user, devices
    return None, []


def step(target: AlertTarget, now: datetime, stopped: set[int]) -> tuple[list[Device], User | None]:
    """The devices ``target`` owes now, moving it on; returns (devices, escalated-to member or None).

    PERSON, DEVICE and all-at-once GROUP targets owe everything at once and are then done. An
    escalate-in-order GROUP owes its next member and sets ``next_at`` for the one after. A target
    that owes nothing at its first step is a targeted-recipient failure (``report_failure``).
    """
    first = target.next_position == 0
    devices, member = _step(target, now, stopped)
    if first and not devices:
        reason = _why_nobody(target, stopped)
        if reason:
            report_failure(target, reason)
    return devices, member


def report_failure(target: AlertTarget, reason: str) -> None:
    """Record on the timeline and publish that ``target`` resolved to nobody or to no device."""
    alert = db.session.get(Alert, target.alert_id)
    add_timeline(alert, "RECIPIENT_FAILED", recipient=target.recipient_id, recipientType=target.recipient_type,
                 reason=reason)
    events.publish(events.RecipientFailed(alert, target.recipient_id, reason))


def _why_nobody(target: AlertTarget, stopped: set[int]) -> str | None:
    """Why a target owes no device at its first step; None when that is only because people responded."""
    name = target.recipient_id
    if target.recipient_type in ("PERSON", "DEVICE"):
        username, _, device = name.partition("|")
        user = db.session.query(User).filter_by(username=username).first()
        if user is None:
            return f"no user named {username!r}"
        if user.id in stopped:
            return None
        if not user.active:
            return f"{username} is deactivated"
        return f"{username} has no enabled device named {device.strip()!r}" if device \
            else f"{username} has no enabled device"
    group = db.session.get(Group, target.group_id) if target.group_id else None
    if group is None:
        return f"no group named {name!r}"
    if not group.members:
        return f"group {name!r} has no members"
    if any(m.user_id in stopped for m in group.members):
        return None
    return f"no member of group {name!r} has an enabled device"


def _step(target: AlertTarget, now: datetime, stopped: set[int]) -> tuple[list[Device], User | None]:
    target.next_at = None
    if target.recipient_type == "PERSON":
        target.state = "done"
        return _person(target), None
    if target.recipient_type == "DEVICE":
        target.state = "done"
        return _device(target), None
    group = db.session.get(Group, target.group_id) if target.group_id else None
    if group is None:
        target.state = "done"
        return [], None
    if group.mode != ESCALATING or _escalation_overridden(target):
        target.state = "done"
        ids = [m.user_id for m in group.members if m.user_id not in stopped]
        # one query for all members' devices: a group may have a thousand members
        users = {u.id: u for u in db.session.query(User).options(selectinload(User.devices))
                 .filter(User.id.in_(ids))} if ids else {}
        return [d for uid in ids for d in enabled_devices(users.get(uid))], None
    member, devices = _next_member(target, group, stopped)
    if target.next_position < len(group.members):
        target.next_at = now + timedelta(minutes=group.escalation_delay_minutes)
    else:
        target.state = "done"
    return devices, member


def _escalation_overridden(target: AlertTarget) -> bool:
    """The trigger said ``escalationOverride: true``: an escalating group notifies everyone at once."""
    alert = db.session.get(Alert, target.alert_id)  # already in the session: no query
    return bool(alert is not None and alert.escalation_override)


def new_notifications(alert, target: AlertTarget, devices: list[Device], seen: set[int],
                      stopped: set[int], now: datetime, lease: timedelta) -> list[Notification]:
    """Queued Notification rows for the devices not yet notified (claimed for ``lease`` by the caller)."""
    rows = []
    for device in devices:
        if device.id in seen or device.user_id in stopped:
            continue
        seen.add(device.id)
        note = Notification(alert_id=alert.id, target_id=target.id, user_id=device.user_id, device_id=device.id,
                            recipient=device.user.username, device_name=device.name, kind=device.kind,
                            status="Queued", attempts=0, created_at=now, locked_until=now + lease)
        db.session.add(note)
        rows.append(note)
    return rows
