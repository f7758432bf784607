"""Notifying people: resolve an alert's recipients, write Notification rows, deliver them (SPEC §3).

Rows are written (``Queued``, leased to this worker) and committed before anything is sent; the
outcome is written after. Sending runs in a small thread pool when there are many, while rows are
only touched in the calling thread; a big wave is split into batch jobs that other workers send
(batches.py). The sweeper re-sends what a lost job or a killed worker left.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, or_, select, update
from sqlalchemy.orm import joinedload

from alerting import events, jobs
from alerting.alerts import callbacks
from alerting.alerts.lifecycle import add_timeline
from alerting.notifications import batches, oncall_escalation, recipients, targets
from alerting.notifications.messages import build_message
from alerting.notifications.responses import response_url
from alerting.notifications.sending import send_batches
from extensions import db
from models import Alert, AlertTarget, Notification, utcnow
from runtime import sqlite
from runtime.metrics import NOTIFICATIONS, TIME_TO_NOTIFY

EARLY = timedelta(seconds=1)
GRACE = timedelta(seconds=5)  # leave a due retry to its scheduled job this long before sweeping it
UNDISPATCHED_AFTER = timedelta(seconds=5)
CLAIM_BATCH = 32  # new alerts claimed by one statement
# A job that dispatched something and finds nothing more looks again this many times, this far
# apart, before it answers its bell: under load the next commit is a few ms away, and riding along
# costs a look where a job of its own costs RQ's work around a job (issue 17, BENCHMARKS.md).
LINGER_LOOKS, LINGER_SECONDS = 2, 0.004
# The draining job pushes its bell's expiry (queue.HELD_SECONDS) back in its first round and then
# at most this often, not every round: a round is a few ms, and each push is a Redis round-trip.
KEEP_RUNG_EVERY = 1.0
UNDISPATCHED = (Alert.dispatched_at.is_(None), Alert.status == "ACTIVE")  # new alerts no worker has claimed


def lease() -> timedelta:
    """How long a worker holds the notifications it claimed (KLAXON_NOTIFY_LEASE_SECONDS)."""
    return timedelta(seconds=current_app.config["KLAXON"].notify_lease_seconds)


def dispatch_pending(max_rounds: int = 50) -> int:
    """Dispatch every new alert: one job drains what many inbound requests rang for (jobs.DISPATCH_PENDING).

    Alerts are claimed CLAIM_BATCH at a time by one statement (claim_pending) and their first
    waves written in the same transaction, so the worker's writes take the database's write lock
    once per batch, not four times per alert. Whether anything is left is first asked on a
    read-only connection, so the round that finds nothing takes no write lock.

    The bell stays rung while this job drains, so alerts committed meanwhile are taken by its next
    round instead of each ringing a job of their own (an RQ job costs more than a round). A job that
    dispatched alerts and has not answered lingers for LINGER_LOOKS more looks, LINGER_SECONDS apart,
    before it stops. The bell is answered before the first notification is sent (a worker that sends
    lets another take the new alerts) or when nothing is left; then one last look, after the answer,
    rings a successor for what committed just before it, so no alert waits for the sweeper.
    """
    done = lingered = 0
    answered = contended = False
    kept_at = None  # when the bell's expiry was last pushed back (a round-trip to Redis)

    def answer() -> None:
        nonlocal answered
        if not answered:
            jobs.DISPATCH_PENDING.answer()
            answered = True

    try:
        for _ in range(max_rounds):
            if not answered and (kept_at is None or time.monotonic() - kept_at >= KEEP_RUNG_EVERY):
                jobs.DISPATCH_PENDING.keep_rung()  # a killed job's bell lapses in seconds, not 30
                kept_at = time.monotonic()
            if not _any_pending():
                if not done or answered or lingered >= LINGER_LOOKS:
                    break
                lingered += 1
                _linger()  # the bell stays rung, so what commits meanwhile is this job's, not a new job's
                continue
            lingered = 0
            now = utcnow()
            claimed = claim_pending(now, CLAIM_BATCH)
            if not claimed:  # another worker claimed them after the look (or holds them: it dispatches them)
                db.session.rollback()
                contended = True
                break
            dispatch_claimed(claimed, now, before_sending=answer)
            done += len(claimed)
    finally:
        answer()  # a job that failed must not keep later commits from ringing
    if not contended and _any_pending():  # committed before the answer, or left by max_rounds
        jobs.DISPATCH_PENDING.ring()
    return done


def _linger() -> None:
    time.sleep(LINGER_SECONDS)


# The statements of every round are built once: a statement built per call pays its construction
# and its cache key every time (~10 % of a worker's CPU under ingest, bench.profile).
ANY_PENDING = select(Alert.id).where(*UNDISPATCHED).limit(1)


def _any_pending() -> bool:
    with db.engine.connect().execution_options(**{sqlite.READ_ONLY: True}) as conn:
        found = conn.execute(ANY_PENDING).first()
        conn.rollback()
    return found is not None


def _claim_statement(which):
    return (update(Alert).where(which, *UNDISPATCHED)
            .values(dispatched_at=bindparam("now"), updated_at=Alert.updated_at)
            .returning(Alert.id).execution_options(synchronize_session=False))


_pending = (select(Alert.id).where(*UNDISPATCHED).order_by(Alert.id).limit(bindparam("limit"))
            .with_for_update(skip_locked=True).cte("pending").prefix_with("MATERIALIZED", dialect="postgresql"))
# A CTE, computed once: as a plain IN (subquery), PostgreSQL's plan may run the subquery again
# and claim more than ``limit`` (seen: 4 of LIMIT 2).
CLAIM_PENDING = _claim_statement(Alert.id.in_(select(_pending.c.id)))
CLAIM_ONE = _claim_statement(Alert.id == bindparam("alert_id"))
ALERTS_BY_ID = select(Alert).where(Alert.id.in_(bindparam("ids", expanding=True)))


def claim_pending(now: datetime, limit: int) -> list[int]:
    """Mark the oldest ``limit`` undispatched ACTIVE alerts dispatched, in one UPDATE ... RETURNING,
    and return their ids in order; the caller's transaction stays open. On PostgreSQL the rows a
    concurrent claim holds are skipped (FOR UPDATE SKIP LOCKED), so two workers take different
    alerts instead of one waiting to find none; the outer conditions hold either way."""
    return _claim(CLAIM_PENDING, now=now, limit=limit)


def _claim(statement, **params) -> list[int]:
    """The ids a claim statement (CLAIM_PENDING, CLAIM_ONE) marked dispatched, in order."""
    return sorted(db.session.execute(statement, params).scalars())


def dispatch_claimed(claimed: list[int], now: datetime, before_sending: Callable[[], None] | None = None) -> int:
    """Write the first wave of every alert claimed in the open transaction, commit once, then deliver
    them alert by alert (calling ``before_sending()`` first, if there is anything to send); returns
    deliveries."""
    alerts = {a.id: a for a in db.session.scalars(ALERTS_BY_ID, {"ids": claimed})}
    stopped = recipients.stopped_user_ids_by_alert([i for i in claimed if not alerts[i].suppressed])
    waves = {alert_id: ([] if alerts[alert_id].suppressed
                        else _first_wave(alerts[alert_id], now, stopped.get(alert_id, set())))
             for alert_id in claimed}
    db.session.flush()
    planned = {alert_id: batches.hand_off(alert_id, [n.id for n in notes], now) for alert_id, notes in waves.items()}
    db.session.commit()
    if before_sending is not None and any(planned.values()):
        before_sending()
    delivered, renewed = 0, time.monotonic()
    for position, alert_id in enumerate(claimed):
        if time.monotonic() - renewed > lease().total_seconds() / 3:  # the rest stay leased to this worker
            rest = [i for later in claimed[position:] for i in planned[later]]
            if rest:
                _renew_lease(rest)
            renewed = time.monotonic()
        delivered += deliver(alert_id, planned[alert_id])
    return delivered


def dispatch_alert(alert_id: int) -> int:
    """Resolve the alert's recipients once, notify the first wave; return notifications delivered.

    Suppressed alerts notify nobody; a SUSPENDED alert is left undispatched until it is resumed.
    """
    now = utcnow()
    claimed = _claim(CLAIM_ONE, now=now, alert_id=alert_id)
    if not claimed:
        db.session.rollback()
        return 0
    return dispatch_claimed(claimed, now)


def _first_wave(alert: Alert, now: datetime, stopped: set[int]) -> list[Notification]:
    """``stopped``: the alert's users who asked not to be notified."""
    notes: list[Notification] = []
    seen: set[int] = set()
    for target in recipients.make_targets(alert):
        planned = oncall_escalation.first_steps(alert, target, now, stopped, seen, lease())  # a group with shifts
        if planned is None:
            devices, _ = recipients.step(target, now, stopped)
            planned = recipients.new_notifications(alert, target, devices, seen, stopped, now, lease())
        notes += planned
        targets.schedule(target)
    return notes


def retry_notification(notification_id: int, now: datetime | None = None) -> int:
    """Send one Queued notification again if it is due and no one else holds it."""
    now = now or utcnow()
    if not claim(notification_id, now, due_by=now + EARLY):
        db.session.rollback()
        return 0
    alert_id = db.session.query(Notification.alert_id).filter_by(id=notification_id).scalar()
    db.session.commit()
    return deliver(alert_id, [notification_id])


def send_batch(alert_id: int, ids: list[int], now: datetime | None = None) -> int:
    """Send one batch of a big wave (jobs.SEND_BATCH): the rows of ``ids`` no one else holds."""
    now = now or utcnow()
    claimed = claim_all(ids, now, due_by=now + EARLY)
    if not claimed:
        db.session.rollback()
        return 0
    db.session.commit()
    return deliver(alert_id, claimed)


def claim_all(ids: list[int], now: datetime, due_by: datetime) -> list[int]:
    """Lease the Queued, due, unheld notifications of ``ids`` to this worker (one statement); their ids."""
    if not ids:
        return []
    return sorted(db.session.execute(
        update(Notification)
        .where(Notification.id.in_(ids), Notification.status == "Queued",
               or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= due_by),
               or_(Notification.locked_until.is_(None), Notification.locked_until < now))
        .values(locked_until=now + lease()).returning(Notification.id)
        .execution_options(synchronize_session=False)).scalars())


def claim(notification_id: int, now: datetime, due_by: datetime) -> bool:
    """Lease one Queued notification to this worker; False if another holds it or it is not due."""
    return claim_all([notification_id], now, due_by) == [notification_id]


def deliver(alert_id: int, ids: list[int]) -> int:
    """Send notifications this worker has leased and record each outcome; return how many were delivered.

    Outcomes are written as sends finish and committed every ``BATCH``, renewing the lease of the
    rest, so a thousand-member group is never held on one slow device.
    """
    if not ids:
        return 0
    session = db.session()
    keep, session.expire_on_commit = session.expire_on_commit, False  # rows stay loaded across batch commits
    try:
        return _deliver(alert_id, ids)
    finally:
        session.expire_on_commit = keep


def _deliver(alert_id: int, ids: list[int]) -> int:
    alert, notes = _to_send(alert_id, ids)
    # built outside any transaction: on SQLite an open one holds the write lock the other workers wait for
    sending = [(note, (note.kind, note.device.target, _message(alert, note))) for note in notes]
    pending, delivered, renewed = {n.id for n, _ in sending}, 0, time.monotonic()
    first = alert.first_delivered_at is None
    for batch in send_batches(current_app.config["KLAXON"], [s for _, s in sending]):
        first_at = None
        with db.session.no_autoflush:  # one flush per batch, not one per recorded outcome
            for index, outcome in batch:
                note = sending[index][0]
                at = _record(alert, note, outcome)
                if first and outcome.ok:
                    first, first_at = False, at
                delivered += outcome.ok
                pending.discard(note.id)
            if first_at:  # its UPDATE is the batch's first statement: the transaction starts at the flush
                _first_delivery(alert, first_at)
        db.session.commit()
        if pending and time.monotonic() - renewed > lease().total_seconds() / 3:
            _renew_lease(pending)
            renewed = time.monotonic()
    return delivered


def _to_send(alert_id: int, ids: list[int]) -> tuple[Alert, list[Notification]]:
    """Load the alert and the notifications of ``ids``, fail those that must not go out now, commit;
    return the alert and the rest (still leased to this worker)."""
    ids = batches.hand_off(alert_id, ids, utcnow())  # an escalation's or a sweep's big wave; committed below
    alert = db.session.get(Alert, alert_id)
    # each outcome's delivery update looks for the alert's callbacks and its configuration's endpoint:
    # load them once, now, not once per send (an alert gets its callbacks only when it is created)
    callbacks.remember(alert)
    if alert.configuration is not None:
        alert.configuration.endpoint("delivery")
    notes = (db.session.query(Notification).options(joinedload(Notification.device))
             .filter(Notification.id.in_(ids)).order_by(Notification.id).all())
    blocked, sending = _blocked(alert), []
    for note in notes:
        reason = blocked(note)
        if reason:
            note.status, note.result, note.locked_until = "Failed", f"Not sent: {reason}", None
        else:
            sending.append(note)
    db.session.commit()  # no transaction (on SQLite: no write lock) stays open while devices answer
    return alert, sending


def _renew_lease(ids) -> None:
    db.session.execute(update(Notification).where(Notification.id.in_(list(ids)))
                       .values(locked_until=utcnow() + lease()).execution_options(synchronize_session=False))
    db.session.commit()


def _blocked(alert: Alert):
    """A function saying why a notification must not go out now (None: send it)."""
    stopped_users = recipients.stopped_user_ids(alert.id)
    stopped_targets = {t for (t,) in db.session.query(AlertTarget.id)
                       .filter_by(alert_id=alert.id, state="stopped")}

    def reason(note: Notification) -> str | None:
        if alert.status != "ACTIVE":
            return f"the alert is {alert.status}"
        if note.user_id in stopped_users:
            return f"{note.recipient} responded"
        if note.target_id in stopped_targets:
            return "notifications to this recipient were stopped by a response"
        if note.device is None or not note.device.enabled:
            return "the device was removed or disabled"
        return None
    return reason


def _message(alert: Alert, note: Notification):
    cfg = alert.configuration
    base = current_app.config["KLAXON"].base_url
    links = [(o["text"], o.get("description"), response_url(note, i))
             for i, o in enumerate(alert.response_options or [])]
    return build_message(sender_name=cfg.sender_name or cfg.name, subject=alert.subject, message=alert.message,
                         priority=alert.priority, event_identifier=alert.id, alert_id=alert.uuid,
                         properties=alert.properties, response_links=links, alert_url=f"{base}/alerts/{alert.id}",
                         recipient=note.recipient, device_name=note.device_name)


def _record(alert: Alert, note: Notification, outcome) -> datetime:
    """Write one send's outcome: Delivered, a retry on the schedule, or Failed; return when."""
    now = utcnow()
    schedule = current_app.config["KLAXON"].notify_retry_schedule
    note.attempts += 1
    note.locked_until = None
    note.result = outcome.result
    who = {"recipient": note.recipient, "device": note.device_name, "deviceId": note.device_id}
    if outcome.ok:
        note.status, note.delivered_at, note.next_attempt_at = "Delivered", now, None
        add_timeline(alert, "NOTIFICATION_DELIVERED", **who, result=outcome.result)
        events.publish(events.NotificationSettled(alert, note, delivered=True, message="Notification delivered"))
        NOTIFICATIONS.labels(note.kind, "delivered").inc()
    elif not outcome.permanent and note.attempts < len(schedule):
        delay = schedule[note.attempts]
        note.next_attempt_at = now + timedelta(seconds=delay)
        jobs.RETRY_NOTIFICATION.after_commit(note.id, delay=delay)
        NOTIFICATIONS.labels(note.kind, "retrying").inc()
    else:
        note.status, note.next_attempt_at = "Failed", None
        add_timeline(alert, "NOTIFICATION_FAILED", **who, error=outcome.result, attempts=note.attempts)
        events.publish(events.NotificationSettled(alert, note, delivered=False, message=outcome.result))
        NOTIFICATIONS.labels(note.kind, "failed").inc()
    return now


def _first_delivery(alert: Alert, now: datetime) -> None:
    first = db.session.execute(
        update(Alert).where(Alert.id == alert.id, Alert.first_delivered_at.is_(None))
        .values(first_delivered_at=now, updated_at=Alert.updated_at)
        .execution_options(synchronize_session=False)).rowcount
    if first:
        TIME_TO_NOTIFY.observe(max(0.0, (now - alert.created_at).total_seconds()))


def send_test_message(device, actor: str | None = None) -> tuple[bool, str]:
    """Send a test message to one device now, with no alert (and no Notification row) behind it.

    Returns (ok, what the far end said or why it failed); nothing is retried or recorded.
    """
    msg = build_message(
        sender_name="Klaxon", subject=f"Test notification to {device.name}",
        message="This is a test from Klaxon. If you can read it, Klaxon can reach this device.",
        priority="LOW", event_identifier=0, alert_id="test", response_links=[],
        properties={"User": device.user.username, "Device": device.name, "Requested by": actor or "unknown"},
        recipient=device.user.username, device_name=device.name, test=True)
    [(_, outcome)] = next(send_batches(current_app.config["KLAXON"], [(device.kind, device.target, msg)]))
    NOTIFICATIONS.labels(device.kind, "test_delivered" if outcome.ok else "test_failed").inc()
    return outcome.ok, outcome.result


def sweep(now: datetime) -> int:
    """Dispatch alerts whose job was lost; resend notifications whose retry is due or whose worker died."""
    lost = [a for (a,) in db.session.query(Alert.id)
            .filter(*UNDISPATCHED, Alert.created_at <= now - UNDISPATCHED_AFTER).order_by(Alert.id).limit(50)]
    db.session.rollback()
    for alert_id in lost:
        dispatch_alert(alert_id)
    rows = (db.session.query(Notification.id, Notification.alert_id)
            .filter(Notification.status == "Queued",
                    or_(Notification.next_attempt_at.is_(None), Notification.next_attempt_at <= now - GRACE),
                    or_(Notification.locked_until.is_(None), Notification.locked_until < now))
            .order_by(Notification.id).limit(200).all())
    claimed = set(claim_all([note_id for note_id, _ in rows], now, due_by=now - GRACE))  # one statement
    by_alert: dict[int, list[int]] = {}
    for note_id, alert_id in rows:
        if note_id in claimed:
            by_alert.setdefault(alert_id, []).append(note_id)
    db.session.commit()
    for alert_id, ids in by_alert.items():
        deliver(alert_id, ids)
    return len(lost) + len(rows)
