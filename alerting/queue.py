"""Redis and RQ: the bell, never the ledger.

Jobs are queued only after the database transaction that made their rows has committed
(``enqueue_after_commit``). If Redis is unreachable the job is dropped with a warning:
the rows are already durable and the sweeper queues them again.
"""
from __future__ import annotations

import logging
import threading

from flask import current_app
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from sqlalchemy import event
from sqlalchemy.orm import Session

log = logging.getLogger("klaxon.queue")

# Workers listen in this order: people first, then update webhooks, then flows.
QUEUES = ("notify", "webhooks", "flows")
_connections: dict[str, Redis] = {}
_lock = threading.Lock()


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


def enqueue_now(queue_name: str, func: str, *args, job_id: str | None = None, delay: float | None = None) -> bool:
    """Queue ``func`` (dotted path) now or after ``delay`` seconds; False if Redis could not be reached."""
    try:
        queue = get_queue(queue_name)
        options = {"job_id": job_id, "result_ttl": 0, "failure_ttl": 3600, "job_timeout": 120}
        if delay and delay > 0:
            from datetime import timedelta

            queue.enqueue_in(timedelta(seconds=delay), func, *args, **options)
        else:
            queue.enqueue(func, *args, **options)
        return True
    except (RedisError, OSError) as exc:
        log.warning("could not queue %s%r (%s); the sweeper will retry", func, args, type(exc).__name__)
        return False


def enqueue_after_commit(queue_name: str, func: str, *args, job_id: str | None = None,
                         delay: float | None = None) -> None:
    """Queue the job once the current transaction commits; forget it on rollback."""
    from extensions import db

    pending = db.session.info.setdefault("klaxon_after_commit", [])
    pending.append((queue_name, func, args, job_id, delay))


def ring_after_commit(bell: str, queue_name: str, func: str) -> None:
    """After commit, make sure one job ``func`` is pending to drain all work of kind ``bell``.

    Many commits share one job: only the first sets the bell's flag and queues; the job clears
    the flag (``answer``) before it reads what is due, so nothing committed later is missed.
    """
    from extensions import db

    db.session.info.setdefault("klaxon_after_commit", []).append(("bell", bell, queue_name, func))


def answer(bell: str) -> None:
    """Called by the draining job before it reads the work, so later commits ring again."""
    try:
        redis_conn().delete(f"klaxon:bell:{bell}")
    except (RedisError, OSError):
        pass


def _ring(bell, queue_name, func):
    try:
        first = redis_conn().set(f"klaxon:bell:{bell}", "1", nx=True, ex=30)
    except (RedisError, OSError) as exc:
        log.warning("could not ring %s (%s); the sweeper will pick the work up", bell, type(exc).__name__)
        return
    if first and not enqueue_now(queue_name, func):
        answer(bell)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session):
    pending = session.info.pop("klaxon_after_commit", None)
    for item in pending or ():
        if item[0] == "bell":
            _ring(*item[1:])
        else:
            queue_name, func, args, job_id, delay = item
            enqueue_now(queue_name, func, *args, job_id=job_id, delay=delay)


@event.listens_for(Session, "after_rollback")
def _drop_after_rollback(session):
    session.info.pop("klaxon_after_commit", None)


def queue_depths() -> dict[str, int]:
    """Jobs waiting per queue, for /metrics and `klaxon check`."""
    conn = redis_conn()
    return {name: Queue(name, connection=conn).count for name in QUEUES}
