"""An alert's targets: the record of who is due next, and the bell that rings when (SPEC §3).

``AlertTarget.next_at`` says when a target's next step is due; :func:`schedule` queues the
delayed job (``jobs.ESCALATE_TARGET``) that takes it. Dispatch (the first wave), escalation (the
next steps) and responses (stop, escalate now) all change targets through these functions, so
none of them needs another.
"""
from __future__ import annotations

from alerting import jobs
from extensions import db
from models import Alert, AlertTarget, utcnow


def schedule(target: AlertTarget) -> None:
    """Queue (after commit) the job that takes ``target``'s next step at ``next_at``."""
    if target.state == "active" and target.next_at is not None:
        delay = max(0.0, (target.next_at - utcnow()).total_seconds())
        jobs.ESCALATE_TARGET.after_commit(target.id, delay=delay)


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
