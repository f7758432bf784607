"""Big waves are sent by several workers: all but the first batch go to batch jobs (issue 17).

One RQ job sends from one process, whose GIL caps a fan-out however many workers run. So a
wave of more than ``SIZE`` notifications keeps its first ``SIZE`` for the worker that made it,
and the rest are released (no lease, due now) and named, ``SIZE`` ids at a time, in
``jobs.SEND_BATCH`` jobs queued after the commit, which any worker takes. The rows stay the
ledger: a batch job sends only what it claims (dispatch's lease), so a job queued twice sends
once, and the rows of a lost batch job are Queued, unleased and due, which the sweeper resends
after its grace exactly as it resends a lost retry.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import update

from alerting import jobs
from extensions import db
from models import Notification

SIZE = 100  # notifications per batch job
STATEMENT_IDS = 1000  # ids per UPDATE (SQLite's bound-parameter limit is far above)


def hand_off(alert_id: int, ids: list[int], now: datetime) -> list[int]:
    """Keep the first ``SIZE`` of ``ids`` (leased to this worker) and hand the rest to batch jobs.

    Runs in the caller's transaction; the jobs are queued once it commits, none if it rolls back.
    Returns the ids this worker still has to send.
    """
    if len(ids) <= SIZE:
        return ids
    keep, rest = ids[:SIZE], ids[SIZE:]
    for start in range(0, len(rest), STATEMENT_IDS):
        db.session.execute(
            update(Notification)
            .where(Notification.id.in_(rest[start:start + STATEMENT_IDS]), Notification.status == "Queued")
            .values(locked_until=None, next_attempt_at=now)
            .execution_options(synchronize_session=False))
    for start in range(0, len(rest), SIZE):
        jobs.SEND_BATCH.after_commit(alert_id, rest[start:start + SIZE])
    return keep
