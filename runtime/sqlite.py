"""SQLite as a shared database: WAL, a busy timeout, BEGIN IMMEDIATE and one writer per process.

Web processes and workers write to one SQLite file at once. ``configure(engine)`` hooks an
engine (the app's, from ``create_app``); engines of other databases are left alone.

A transaction waits at most the engine's lock timeout (KLAXON_DB_LOCK_TIMEOUT_SECONDS) in all,
for this process's writer lock and then SQLite's, and then fails with ``OperationalError``
("database is locked"), which the app answers with a 503: a stuck writer elsewhere costs a
sender seconds, not the minute it used to.
"""
from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
import weakref

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import OperationalError

DEFAULT_LOCK_TIMEOUT = 5.0
_timeouts: weakref.WeakKeyDictionary[Engine, float] = weakref.WeakKeyDictionary()
# One SQLite writer per process at a time: threads queue on this lock instead of on SQLite's
# busy handler, whose sleeps grow to 100 ms and make the tail latency of every writer long.
_WRITER = threading.RLock()
# Ids of this thread's Connections holding the lock. Kept off the connection: an invalidated
# connection has lost its info dict and cannot be asked for it without raising.
_holders = threading.local()


def configure(engine: Engine, lock_timeout: float = DEFAULT_LOCK_TIMEOUT) -> None:
    """Hook a SQLite engine (idempotent); any other engine is left as it is."""
    if engine.dialect.name != "sqlite":
        return
    _timeouts[engine] = lock_timeout
    for name, listener in (("connect", _pragmas), ("begin", _begin_immediate),
                           ("commit", _end), ("rollback", _end)):
        if not event.contains(engine, name, listener):
            event.listen(engine, name, listener)


def _pragmas(dbapi_connection, _record) -> None:
    """WAL and a busy timeout: web processes and workers write to one SQLite file at once."""
    dbapi_connection.isolation_level = None  # we issue BEGIN ourselves (below)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA busy_timeout={int(DEFAULT_LOCK_TIMEOUT * 1000)}")  # set per transaction below
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _held() -> set[int]:
    if not hasattr(_holders, "ids"):
        _holders.ids = set()
    return _holders.ids


READ_ONLY = "klaxon_read_only"  # execution option: a read-only connection, outside the writer lock


def _begin_immediate(conn: Connection) -> None:
    """Take SQLite's write lock at BEGIN, so a read-then-write transaction never dead-ends in 'database is locked'.

    Both waits together stay within the engine's lock timeout; past it, OperationalError. A
    connection opened with ``execution_options(klaxon_read_only=True)`` (``READ_ONLY``) only
    reads: it begins a deferred transaction (a WAL snapshot) and takes neither lock.
    """
    if conn.get_execution_options().get(READ_ONLY):
        conn.exec_driver_sql("BEGIN")
        return
    timeout = _timeouts.get(conn.engine, DEFAULT_LOCK_TIMEOUT)
    started = time.monotonic()
    if not _WRITER.acquire(timeout=timeout):
        raise _busy(f"no writer turn in this process within {timeout:g} s")
    _held().add(id(conn))
    try:
        _take_turn(conn.engine, started + timeout)
        left = max(1, round((timeout - (time.monotonic() - started)) * 1000))  # SQLite's wait: what is left
        conn.exec_driver_sql(f"PRAGMA busy_timeout={left}")
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        _end(conn)  # no transaction began, so no commit or rollback will come to release the lock
        raise


def _end(conn: Connection) -> None:
    """Release the writer lock at COMMIT or ROLLBACK; never raises, even for an invalidated connection."""
    held = _held()
    if id(conn) in held:
        held.discard(id(conn))
        _give_turn(conn.engine)
        _WRITER.release()


# Writers of other processes: a flock on a file beside the database. SQLite's own busy handler
# sleeps up to 100 ms between tries, so a writer that lost a race to another process waited that
# long although the lock was free again in a millisecond. A turn that is not free at once is waited
# for by a blocking flock in a thread, which the kernel wakes the moment the lock is released; the
# transaction's thread waits on an Event with its deadline. (Polling every 0.5 ms instead cost the
# waiting process CPU: ~10 % of an RQ worker's samples under ingest load.) The waiting thread is
# one per process and lock file, started once and kept (_Waiter): at ~450 alerts/s 70-85 % of
# turns are not free at once, and a thread started for each wait cost its start and end each time.
# Opened once per process (a forked child shares its parent's open file, hence its lock).
_turn_files: dict[tuple[int, str], int] = {}
_turn_held: dict[tuple[int, str], bool] = {}
IDLE, WAITING, ABANDONED = "idle", "waiting", "abandoned"


class _Waiter:
    """The thread that waits in flock for this process's turn on one lock file. Its state changes
    under ``lock``: IDLE (no flock asked for), WAITING (in flock for a transaction that waits on
    ``got``) or ABANDONED (in flock for a transaction that gave up: when it gets the lock it
    releases it at once, unless a new transaction took the wait over meanwhile). Only the thread
    holding this process's _WRITER asks for a turn, so there is one asker at a time."""

    def __init__(self, fd: int):
        self.fd = fd
        self.lock = threading.Lock()
        self.state = IDLE
        self.asked = threading.Event()
        self.got = threading.Event()
        threading.Thread(target=self._run, name="klaxon-sqlite-turn", daemon=True).start()

    def _run(self) -> None:
        while True:
            self.asked.wait()
            self.asked.clear()
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX)
            except OSError:
                with self.lock:
                    self.state = IDLE  # the asker times out: "database is locked"
                continue
            with self.lock:
                if self.state == ABANDONED:
                    fcntl.flock(self.fd, fcntl.LOCK_UN)
                else:
                    self.got.set()  # the asker holds the turn now
                self.state = IDLE

    def take(self, deadline: float) -> bool:
        """Wait for the turn until ``deadline`` (monotonic); True once this process holds it."""
        with self.lock:
            if self.state == IDLE:
                self.got.clear()
                self.asked.set()
            self.state = WAITING  # an abandoned wait still in flock is taken over, not waited out
        got = self.got.wait(max(0.0, deadline - time.monotonic()))
        with self.lock:
            if got or self.got.is_set():  # (set at the last moment: the turn is ours all the same)
                self.got.clear()
                return True
            if self.state == WAITING:  # still in flock (not IDLE after a failed flock)
                self.state = ABANDONED
            return False


_waiters: dict[tuple[int, str], _Waiter] = {}


def _turn_key(engine: Engine) -> tuple[int, str] | None:
    path = engine.url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        return None
    return os.getpid(), path


def _busy(why: str) -> OperationalError:
    return OperationalError("BEGIN IMMEDIATE", {}, sqlite3.OperationalError(f"database is locked ({why})"))


def _take_turn(engine: Engine, deadline: float) -> None:
    """The writer turn among processes, by ``deadline`` (monotonic); OperationalError past it.
    Called with this process's _WRITER held, so one thread per process at a time."""
    key = _turn_key(engine)
    if key is None:
        return
    fd = _turn_files.get(key)
    if fd is None:
        try:
            fd = _turn_files[key] = os.open(f"{key[1]}-writer", os.O_RDWR | os.O_CREAT, 0o600)
        except OSError:  # a read-only directory: SQLite's own busy handler is the only turn
            return
    waiter = _waiters.get(key)
    if waiter is None or waiter.state == IDLE:  # (a flock asked again through the same open file
        try:                                    # while an abandoned one waits would succeed at once)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            _turn_held[key] = True
            return
        except BlockingIOError:
            pass
    if waiter is None:
        waiter = _waiters[key] = _Waiter(fd)
    if not waiter.take(deadline):
        raise _busy("another process kept the writer turn")
    _turn_held[key] = True


def _give_turn(engine: Engine) -> None:
    key = _turn_key(engine)
    if key is not None and _turn_held.pop(key, False):
        try:
            fcntl.flock(_turn_files[key], fcntl.LOCK_UN)
        except OSError:
            pass


def probe_writable(engine: Engine, timeout: float) -> None:
    """Raise OperationalError unless a write transaction can begin within ``timeout`` seconds.

    For /readyz: its own short connection, outside this process's writer lock and the pool, so
    neither a busy request nor another process's held lock makes the probe wait longer.
    """
    path = engine.url.database
    try:
        conn = sqlite3.connect(path or ":memory:", timeout=timeout, isolation_level=None)
    except sqlite3.Error as exc:
        raise OperationalError("connect", {}, exc) from None
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    except sqlite3.Error as exc:
        raise OperationalError("BEGIN IMMEDIATE", {}, exc) from None
    finally:
        conn.close()
