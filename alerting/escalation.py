"""Escalate-in-order groups: the next member after the group's delay, unless a response stopped it (SPEC §3).

``AlertTarget.next_at`` is the record of what is due; the delayed RQ job
(``workers.notify.escalate_target``) is only the bell, and :func:`sweep` rings it again when
a scheduled job was lost.
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, update

from extensions import db
from models import Alert, AlertTarget, utcnow

from . import recipients
from .lifecycle import add_timeline
from .queue import enqueue_after_commit

LEASE = timedelta(seconds=120)
# The scheduler may start a job a little before the database clock says it is due.
EARLY = timedelta(seconds=1)
# Leave due steps to their scheduled job for this long before the sweeper takes them over.
GRACE = timedelta(seconds=5)


def schedule(target: AlertTarget) -> None:
    """Queue (after commit) the job that takes ``target``'s next step at ``next_at``."""
    if target.state == "active" and target.next_at is not None:
        delay = max(0.0, (target.next_at - utcnow()).total_seconds())
        enqueue_after_commit("notify", "workers.notify.escalate_target", target.id, delay=delay)


def stop_target(target: AlertTarget) -> None:
    """Notify no one more through this target (pending retries of its notifications are dropped)."""
    target.state = "stopped"
    target.next_at = None


def stop_all_targets(alert: Alert) -> None:
    """Stop every target of the alert: no more escalation or retries for anyone."""
    for target in db.session.query(AlertTarget).filter_by(alert_id=alert.id):
        stop_target(target)


def escalate_now(target: AlertTarget) -> None:
    """The ESCALATE action: the next member of an escalating group is notified now, not after the delay."""
    if target.state == "active" and target.next_at is not None:
        target.next_at = utcnow()
        schedule(target)


def _claim(target_id: int, now: datetime) -> bool:
    result = db.session.execute(
        update(AlertTarget)
        .where(AlertTarget.id == target_id, AlertTarget.state == "active", AlertTarget.next_at.isnot(None),
               AlertTarget.next_at <= now + EARLY,
               or_(AlertTarget.locked_until.is_(None), AlertTarget.locked_until < now))
        .values(locked_until=now + LEASE)
        .execution_options(synchronize_session=False))
    return result.rowcount == 1


def run_target(target_id: int, now: datetime | None = None) -> int:
    """Take ``target``'s next escalation step if it is due; return the notifications sent."""
    from . import notify

    now = now or utcnow()
    if not _claim(target_id, now):
        db.session.rollback()
        return 0
    target = db.session.get(AlertTarget, target_id)
    alert = db.session.get(Alert, target.alert_id)
    target.locked_until = None
    if alert.status != "ACTIVE" or alert.suppressed:
        if not alert.is_open or alert.suppressed:
            stop_target(target)
        db.session.commit()  # a SUSPENDED alert keeps its step due: the sweeper takes it after a resume
        return 0
    stopped = recipients.stopped_user_ids(alert.id)
    devices, member = recipients.step(target, now, stopped)
    notes = recipients.new_notifications(alert, target, devices, recipients.notified_device_ids(alert.id),
                                         stopped, now, notify.LEASE)
    if member is not None:
        add_timeline(alert, "EVENT_ESCALATED", group=target.recipient_id, recipient=member.username,
                     devices=[n.device_name for n in notes])
    schedule(target)
    db.session.flush()
    alert_id, ids = alert.id, [n.id for n in notes]
    db.session.commit()
    return notify.deliver(alert_id, ids)


def sweep(now: datetime) -> int:
    """Take escalation steps that are overdue (their scheduled job was lost); return how many."""
    ids = [row.id for row in db.session.query(AlertTarget.id)
           .filter(AlertTarget.state == "active", AlertTarget.next_at <= now - GRACE,
                   or_(AlertTarget.locked_until.is_(None), AlertTarget.locked_until < now))
           .order_by(AlertTarget.next_at).limit(200)]
    db.session.rollback()
    for target_id in ids:
        run_target(target_id, now)
    return len(ids)
