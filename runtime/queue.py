"""Redis and RQ: the bell, never the ledger.

Jobs are queued only after the database transaction that made their rows has committed
(``enqueue_after_commit``). If Redis is unreachable the job is dropped with a warning:
the rows are already durable and the sweeper queues them again.
"""
from __future__ import annotations

import logging
import threading
from datetime import timedelta

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy import event
from sqlalchemy.orm import scoped_session

from extensions import db

log = logging.getLogger("klaxon.queue")

# Workers listen in this order: people first, then update webhooks, then flows.
QUEUES = ("notify", "webhooks", "flows")
_connections: dict[str, Redis] = {}
_lock = threading.Lock()
PENDING_KEY = "klaxon_after_commit"  # session.info: jobs to queue once the transaction commits
RESULT_TTL, FAILURE_TTL = 0, 3600  # every job's: no result kept; a failed one kept an hour to look at


def redis_for(url: str) -> Redis:
    """One Redis client (with its connection pool) per URL per process."""
    with _lock:
        conn = _connections.get(url)
        if conn is None:
            conn = Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2, health_check_interval=30)
            _connections[url] = conn
        return conn


def redis_conn() -> Redis:
    url = current_app.config["KLAXON"].redis_url
    if not url:
        raise RuntimeError("KLAXON_REDIS_URL is not set and no embedded Redis was started")
    return redis_for(url)


def get_queue(name: str) -> Queue:
    return Queue(name, connection=redis_conn())


def enqueue_now(queue_name: str, func: str, *args, job_id: str | None = None, delay: float | None = None,
                timeout: int = 120) -> bool:
    """Queue ``func`` (dotted path) now or after ``delay`` seconds; False if Redis could not be reached."""
    try:
        queue = get_queue(queue_name)
        options = {"job_id": job_id, "result_ttl": RESULT_TTL, "failure_ttl": FAILURE_TTL, "job_timeout": timeout}
        if delay and delay > 0:
            queue.enqueue_in(timedelta(seconds=delay), func, *args, **options)
        else:
            queue.enqueue(func, *args, **options)
        return True
    except (RedisError, OSError) as exc:
        log.warning("could not queue %s%r (%s); the sweeper will retry", func, args, type(exc).__name__)
        return False


def enqueue_after_commit(queue_name: str, func: str, *args, job_id: str | None = None,
                         delay: float | None = None, timeout: int = 120) -> None:
    """Queue the job once the current transaction commits; forget it on rollback."""
    pending = db.session.info.setdefault(PENDING_KEY, [])
    pending.append(("job", queue_name, func, args, {"job_id": job_id, "delay": delay, "timeout": timeout}))


def ring_after_commit(bell: str, queue_name: str, func: str, timeout: int = 120) -> None:
    """After commit, make sure one job ``func`` is pending to drain all work of kind ``bell``.

    Many commits share one job: only the first sets the bell's flag and queues; the job clears
    the flag (``answer``) when it stops taking new work and then looks once more, so nothing
    committed later is missed.
    """
    db.session.info.setdefault(PENDING_KEY, []).append(("bell", bell, queue_name, func, timeout))


RUNG_SECONDS = 30  # how long a rung bell waits for its job to start before another ring may queue one
HELD_SECONDS = 5  # how long a draining job's bell outlives the job's last round (a killed job's, say)


def _bell_key(bell: str) -> str:
    return f"klaxon:bell:{bell}"


def keep_rung(bell: str) -> None:
    """Called by the draining job each round: its bell stays set while it runs and ends
    HELD_SECONDS after it stops (a SIGKILLed job's bell then no longer mutes new commits)."""
    try:
        redis_conn().expire(_bell_key(bell), HELD_SECONDS)
    except (RedisError, OSError):
        pass


def answer(bell: str) -> None:
    """Called by the draining job once it no longer takes new work (then it looks once more), so
    later commits ring again."""
    try:
        redis_conn().delete(_bell_key(bell))
    except (RedisError, OSError):
        pass


def ring(bell, queue_name, func, timeout):
    """Set the bell's flag and, if it was not set, queue ``func``."""
    try:
        first = redis_conn().set(_bell_key(bell), "1", nx=True, ex=RUNG_SECONDS)
    except (RedisError, OSError) as exc:
        log.warning("could not ring %s (%s); the sweeper will pick the work up", bell, type(exc).__name__)
        return
    if first and not enqueue_now(queue_name, func, timeout=timeout):
        answer(bell)


def _run_after_commit(session):
    now: dict[str, list[tuple[str, tuple, dict]]] = {}  # queue -> the jobs to queue now, in order
    for item in session.info.pop(PENDING_KEY, None) or ():
        if item[0] == "bell":
            ring(*item[1:])
        else:
            _, queue_name, func, args, options = item
            if options.get("delay"):
                enqueue_now(queue_name, func, *args, **options)
            else:
                now.setdefault(queue_name, []).append((func, args, options))
    for queue_name, jobs in now.items():
        enqueue_all(queue_name, jobs)


def enqueue_all(queue_name: str, jobs: list[tuple[str, tuple, dict]]) -> bool:
    """Queue every (func, args, options) of one commit on ``queue_name`` in one Redis round trip
    (a batch of alerts, each with its update webhook message, queues one job per message);
    False if Redis could not be reached (the sweeper queues them again)."""
    if len(jobs) == 1:
        func, args, options = jobs[0]
        return enqueue_now(queue_name, func, *args, **options)
    try:
        get_queue(queue_name).enqueue_many([
            Queue.prepare_data(func, args=args, job_id=options.get("job_id"), result_ttl=RESULT_TTL,
                               failure_ttl=FAILURE_TTL, timeout=options.get("timeout", 120))
            for func, args, options in jobs])
        return True
    except (RedisError, OSError) as exc:
        log.warning("could not queue %d jobs on %s (%s); the sweeper will retry", len(jobs), queue_name,
                    type(exc).__name__)
        return False


def _drop_after_rollback(session):
    session.info.pop(PENDING_KEY, None)


def listen(session: scoped_session) -> None:
    """Queue a session's pending jobs after it commits and drop them after a rollback (idempotent)."""
    for name, listener in (("after_commit", _run_after_commit), ("after_rollback", _drop_after_rollback)):
        if not event.contains(session, name, listener):
            event.listen(session, name, listener)


def queue_depths() -> dict[str, int]:
    """Jobs waiting per queue, for /metrics and `klaxon check`."""
    conn = redis_conn()
    return {name: Queue(name, connection=conn).count for name in QUEUES}
