"""Signing in to the dashboard: failures throttled per account and per address, and the same work
(one password hash) whether or not the username exists, so timing tells no one which names do.

Failures are counted in Redis, shared by every web process; while Redis is away they are counted
in this process's memory instead, so an outage neither locks everyone out nor lifts the throttle.
"""
from __future__ import annotations

import hashlib
import secrets
import threading
import time

from flask import current_app
from redis.exceptions import RedisError
from werkzeug.security import check_password_hash, generate_password_hash

from extensions import db
from models import User
from runtime.queue import redis_conn

WINDOW_SECONDS = 300
ACCOUNT_LIMIT = 5  # failures per username in the window; then that name waits out the window
ADDRESS_LIMIT = 20  # failures per client address (more: people behind one NAT share an address)
REDIS_PAUSE_SECONDS = 15.0  # after a Redis error, memory is used this long before Redis is tried again
MEMORY_KEYS = 10_000

_dummy_hash: str | None = None
_dummy_lock = threading.Lock()


def authenticate(username: str, password: str) -> User | None:
    """The active user with this username and password, else None; one hash check either way."""
    user = db.session.query(User).filter_by(username=username).first()
    stored = user.password_hash if user is not None and user.password_hash else _unknown_user_hash()
    matches = check_password_hash(stored, password)
    return user if matches and user is not None and user.password_hash and user.active else None


def _unknown_user_hash() -> str:
    """A hash made like a real one (werkzeug's default method), of a password nobody knows."""
    global _dummy_hash
    with _dummy_lock:
        if _dummy_hash is None:
            _dummy_hash = generate_password_hash(secrets.token_urlsafe(24))
        return _dummy_hash


def retry_after(username: str, address: str | None) -> int:
    """Seconds until this username may try again from this address; 0 when it may now."""
    keys = [(_key("account", username), ACCOUNT_LIMIT), (_key("address", address or "unknown"), ADDRESS_LIMIT)]
    return max(_store().wait(key, limit) for key, limit in keys)


def record_failure(username: str, address: str | None) -> None:
    """Count one failed sign-in against the username and the address."""
    store = _store()
    store.hit(_key("account", username))
    store.hit(_key("address", address or "unknown"))


def record_success(username: str) -> None:
    """A good sign-in clears its username's failures (not its address's: one's own account must not
    wipe the count of a spray from that address)."""
    _store().clear(_key("account", username))


def _key(kind: str, value: str) -> str:
    # hashed: a username may be any length and any characters
    return f"klaxon:sign-in:{kind}:{hashlib.sha256(value.encode('utf-8', 'replace')).hexdigest()[:32]}"


class RedisFailures:
    """Fixed windows in Redis: a counter per key that expires WINDOW_SECONDS after its first failure."""

    def wait(self, key: str, limit: int) -> int:
        pipe = redis_conn().pipeline(transaction=False)
        pipe.get(key)
        pipe.ttl(key)
        count, ttl = pipe.execute()
        return max(int(ttl), 1) if count is not None and int(count) >= limit else 0

    def hit(self, key: str) -> None:
        pipe = redis_conn().pipeline()  # MULTI: the window starts and counts in one step
        pipe.set(key, 0, ex=WINDOW_SECONDS, nx=True)
        pipe.incr(key)
        pipe.execute()

    def clear(self, key: str) -> None:
        redis_conn().delete(key)


class MemoryFailures:
    """The same windows in this process's memory, for while Redis is away."""

    def __init__(self) -> None:
        self.windows: dict[str, tuple[int, float]] = {}  # key -> (failures, monotonic time it ends)
        self.lock = threading.Lock()

    def wait(self, key: str, limit: int) -> int:
        with self.lock:
            count, ends = self.windows.get(key, (0, 0.0))
        left = ends - time.monotonic()
        return max(int(left + 0.999), 1) if count >= limit and left > 0 else 0

    def hit(self, key: str) -> None:
        now = time.monotonic()
        with self.lock:
            count, ends = self.windows.get(key, (0, 0.0))
            self.windows[key] = (count + 1, ends) if ends > now else (1, now + WINDOW_SECONDS)
            if len(self.windows) > MEMORY_KEYS:
                self._forget_oldest(now)

    def clear(self, key: str) -> None:
        with self.lock:
            self.windows.pop(key, None)

    def _forget_oldest(self, now: float) -> None:
        live = sorted((ends, key) for key, (_, ends) in self.windows.items() if ends > now)
        self.windows = {key: self.windows[key] for _, key in live[-MEMORY_KEYS // 2:]}


class FallbackFailures:
    """RedisFailures, or MemoryFailures for a while after Redis did not answer."""

    def __init__(self) -> None:
        self.redis, self.memory = RedisFailures(), MemoryFailures()
        self.redis_back_at = 0.0

    def wait(self, key: str, limit: int) -> int:
        return self._first(lambda store: store.wait(key, limit))

    def hit(self, key: str) -> None:
        self._first(lambda store: store.hit(key))

    def clear(self, key: str) -> None:
        self._first(lambda store: store.clear(key))

    def _first(self, call):
        if time.monotonic() >= self.redis_back_at:
            try:
                return call(self.redis)
            except (RedisError, OSError, RuntimeError):  # RuntimeError: no Redis configured at all
                self.redis_back_at = time.monotonic() + REDIS_PAUSE_SECONDS
        return call(self.memory)


def _store() -> FallbackFailures:
    """This app's failure counts (one per app, so its memory fallback is the app's own)."""
    return current_app.extensions.setdefault("klaxon.sign_in_failures", FallbackFailures())
