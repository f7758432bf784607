"""The sweeper: finds rows whose next step is due and queues (or runs) it again.

Redis only rings the bell; this is what makes a lost queue, a killed worker or a restarted
Redis lose nothing. Each feature contributes one function ``sweep(now) -> int`` (rows handled).
"""
from __future__ import annotations

import logging
import time

from redis.exceptions import RedisError

from alerting import heartbeats
from alerting.alerts import lifecycle
from alerting.flows import engine as flows
from alerting.maintenance import holds
from alerting.notifications import dispatch, escalation
from alerting.update_webhooks import outbox
from extensions import db
from models import utcnow
from runtime.queue import redis_conn

log = logging.getLogger("klaxon.sweeper")

# Each is called once per sweep, in this order.
SWEEPS = [lifecycle.sweep_expired, outbox.sweep, holds.sweep, heartbeats.sweep, dispatch.sweep, escalation.sweep,
          flows.sweep]
LOCK_KEY = "klaxon:sweeper:lock"


def sweep_once(now=None) -> dict[str, int]:
    """Run every sweep function once; return rows handled per function. Needs an app context."""
    now = now or utcnow()
    handled = {}
    for func in SWEEPS:
        name = f"{func.__module__}.{func.__name__}"
        try:
            handled[name] = func(now) or 0
        except Exception:
            db.session.rollback()
            log.exception("sweep %s failed", name)
        finally:
            db.session.remove()
    return handled


def _take_lock(interval) -> bool:
    """Only one sweeper per interval across all workers; without Redis, sweep anyway."""
    try:
        return bool(redis_conn().set(LOCK_KEY, "1", nx=True, px=max(100, int(interval * 900))))
    except (RedisError, OSError):
        return True


def sweep_forever(app, stop) -> None:
    interval = app.config["KLAXON"].sweep_interval
    with app.app_context():
        while not stop.wait(interval):
            started = time.monotonic()
            if not _take_lock(interval):
                continue
            handled = sweep_once()
            if any(handled.values()):
                log.info("sweep handled %s in %.0f ms", handled, (time.monotonic() - started) * 1000)
