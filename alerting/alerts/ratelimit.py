"""Per-configuration rate limit: a fixed one-minute window counted in Redis."""
from __future__ import annotations

import hashlib
import logging
import time

from redis.exceptions import RedisError

from runtime.queue import redis_conn

log = logging.getLogger("klaxon.ratelimit")


def rate_key(config_id: int, window: int) -> str:
    """The Redis counter of a configuration's alerts in minute ``window`` (epoch minutes)."""
    return f"klaxon:rate:{config_id}:{window}"


def over_limit(cfg, count: int = 1) -> int | None:
    """Count ``count`` alerts for ``cfg``; return seconds to wait if that passes the limit, else None.

    A request over the limit is not counted, so a client that backs off gets its quota back.
    Without Redis the limit is not enforced (accepting alerts matters more than shaping them).
    """
    limit = cfg.rate_limit_per_minute
    if not limit:
        return None
    now = time.time()
    window = int(now // 60)
    key = rate_key(cfg.id, window)
    try:
        conn = redis_conn()
        pipe = conn.pipeline()
        pipe.incrby(key, count)
        pipe.expire(key, 120)
        used = pipe.execute()[0]
        if used > limit:
            conn.decrby(key, count)
            return max(1, int((window + 1) * 60 - now + 0.999))
    except (RedisError, OSError) as exc:
        log.warning("rate limit not checked: Redis unreachable (%s)", type(exc).__name__)
    return None


def give_back(cfg, count: int = 1) -> None:
    """Uncount ``count`` alerts over_limit counted for ``cfg`` in this minute (their request is made again)."""
    if not cfg.rate_limit_per_minute:
        return
    try:
        redis_conn().decrby(rate_key(cfg.id, int(time.time() // 60)), count)
    except (RedisError, OSError) as exc:
        log.warning("rate limit not given back: Redis unreachable (%s)", type(exc).__name__)


def flooded(cfg, recipients: list[dict]) -> bool:
    """Flood control: True when more than ``flood_limit_per_minute`` alerts went to these recipients."""
    limit = cfg.flood_limit_per_minute
    if not limit:
        return False
    names = ",".join(sorted(f"{r['recipientType']}:{r['id']}" for r in recipients))
    digest = hashlib.sha1(names.encode()).hexdigest()[:16]
    key = f"klaxon:flood:{cfg.id}:{digest}:{int(time.time() // 60)}"
    try:
        pipe = redis_conn().pipeline()
        pipe.incr(key)
        pipe.expire(key, 120)
        return pipe.execute()[0] > limit
    except (RedisError, OSError):
        return False
