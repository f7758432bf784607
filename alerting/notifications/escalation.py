"""Escalate-in-order groups: the next member after the group's delay, unless a response stopped it (SPEC §3).

``AlertTarget.next_at`` is the record of what is due; the delayed RQ job
(``jobs.ESCALATE_TARGET``, queued by :func:`targets.schedule`) is only the bell, and :func:`sweep`
rings it again when a scheduled job was lost. This module takes the steps and sends through
dispatch; dispatch never needs it (both change targets through ``targets``).
"""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, update

from alerting import events
from alerting.alerts.lifecycle import add_timeline
from alerting.notifications import dispatch as notify
from alerting.notifications import oncall_escalation, recipients
from alerting.notifications.targets import schedule, stop_target
from extensions import db
from models import Alert, AlertTarget, utcnow

LEASE = timedelta(seconds=120)
# The scheduler may start a job a little before the database clock says it is due.
EARLY = timedelta(seconds=1)
# Leave due steps to their scheduled job for this long before the sweeper takes them over.
GRACE = timedelta(seconds=5)


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
    planned = oncall_escalation.next_steps(alert, target, now, stopped, notify.lease())  # a group with shifts
    devices, member = recipients.step(target, now, stopped) if planned is None else ([], None)
    notes = planned if planned is not None else recipients.new_notifications(
        alert, target, devices, recipients.notified_device_ids(alert.id), stopped, now, notify.lease())
    if member is not None:
        add_timeline(alert, "EVENT_ESCALATED", group=target.recipient_id, recipient=member.username,
                     devices=[n.device_name for n in notes])
        events.publish(events.GroupEscalated(alert, group=target.recipient_id, shift=None,
                                             recipients=(member.username,), level=target.next_position))
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
