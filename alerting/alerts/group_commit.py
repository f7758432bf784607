"""Group commit for the integration URL: one writer thread per process, one transaction per batch.

A request thread does everything that only reads (its configuration, the key, parsing, the rate
limit) before any write lock, then hands ``work`` (a function that writes through ``db.session``
and returns what the 202 needs) to ``submit``. The process's writer thread takes every ticket
waiting, runs their work one after the other in ONE transaction and commits; each request is
woken only after its batch has committed, so the 202 still means "durably stored".

If any work of a batch raises, or the commit fails, the whole batch is rolled back (no partial
alert) and each of its tickets is run again alone, in a transaction of its own: a bad request
or a deadlock fails only the requests that fail by themselves, as they did before batching.

A request waits at most ``wait`` seconds (the database lock timeout) for the writer to take its
ticket; a ticket not yet taken by then is withdrawn (it will never run) and the request answers
503. Once taken, the request waits for its batch's outcome (which the database's own lock
timeout bounds), so a request never answers non-202 for an alert that was stored.
"""
from __future__ import annotations

import logging
import os
import queue as stdqueue
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import OperationalError

from extensions import db
from runtime import queue

log = logging.getLogger("klaxon.group_commit")
MAX_BATCH = 64  # tickets per transaction
TAKEN_BACKSTOP_SECONDS = 120
WRITERS_PG = 2
WRITERS_PG_IN_ALL = 4  # writer threads of all web processes together, at least one per process
IDLE_SECONDS = 5.0  # an idle writer thread ends, so apps made and dropped (tests) do not keep threads
QUEUED, TAKEN, WITHDRAWN = "queued", "taken", "withdrawn"
# session.info: reads that stay valid for one batch's transaction (e.g. the maintenance windows,
# which no work of a batch writes); present only while a batch runs, emptied on its rollback
BATCH_CACHE = "klaxon_batch_cache"


def batch_cache() -> dict | None:
    """The running batch's cache of reads, or None outside a group-commit batch (then read afresh)."""
    return db.session.info.get(BATCH_CACHE)


class WriterBusy(OperationalError):
    """The writer did not take the ticket in time (answered with SPEC §2's 503)."""

    def __init__(self, wait: float):
        super().__init__("group commit", {}, Exception(f"no writer turn within {wait:g} s"))


class Closed(Exception):
    """The writer ended (idle) before the ticket was put; submit to a new one."""


class Ticket:
    def __init__(self, work: Callable[[], Any]):
        self.work = work
        self.state = QUEUED
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None

    def take(self) -> bool:
        with self.lock:
            if self.state != QUEUED:
                return False
            self.state = TAKEN
            return True

    def withdraw(self) -> bool:
        """True if the ticket will never run; False if the writer already has it."""
        with self.lock:
            if self.state == QUEUED:
                self.state = WITHDRAWN
                return True
            return False

    def finish(self, result: Any = None, error: BaseException | None = None) -> None:
        self.result, self.error = result, error
        self.done.set()


class Writer:
    """The writer thread of one process (started on first use, again after a fork)."""

    def __init__(self, app, threads: int = 1):
        self.app = app
        self.tickets: stdqueue.SimpleQueue[Ticket] = stdqueue.SimpleQueue()
        self.pid = os.getpid()
        self.batches = 0  # committed batches, for tests and the bench
        self.gate = threading.Lock()  # a ticket is never put after the writer decided to end
        self.closed = False
        self.threads = [threading.Thread(target=self._run, name="klaxon-group-commit", daemon=True)
                        for _ in range(threads)]
        for thread in self.threads:
            thread.start()

    def submit(self, work: Callable[[], Any], wait: float) -> Any:
        """``work``'s result once its batch committed; raises its error, or WriterBusy, or Closed."""
        ticket = Ticket(work)
        with self.gate:
            if self.closed:
                raise Closed
            self.tickets.put(ticket)
        if not ticket.done.wait(wait) and ticket.withdraw():
            raise WriterBusy(wait)
        # taken: its batch is bounded by the database's own lock timeout, so this is a backstop
        if not ticket.done.wait(TAKEN_BACKSTOP_SECONDS):
            log.error("a taken ticket had no outcome within %d s", TAKEN_BACKSTOP_SECONDS)
            raise WriterBusy(TAKEN_BACKSTOP_SECONDS)
        if ticket.error is not None:
            raise ticket.error
        return ticket.result

    def _run(self) -> None:
        while True:
            try:
                batch = [self.tickets.get(timeout=IDLE_SECONDS)]
            except stdqueue.Empty:
                with self.gate:
                    if self.tickets.empty():  # idle (or ended by another thread): the next submit starts a new writer
                        self.closed = True
                        return
                continue
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self.tickets.get_nowait())
                except stdqueue.Empty:
                    break
            batch = [ticket for ticket in batch if ticket.take()]
            if not batch:
                continue
            try:
                with self.app.app_context():
                    self._commit(batch)
            except BaseException as exc:  # never let the thread die with requests waiting
                log.exception("group commit failed outside a transaction")
                for ticket in batch:
                    if not ticket.done.is_set():
                        ticket.finish(error=exc)

    def _commit(self, batch: list[Ticket]) -> None:
        # what the batch loaded stays readable, detached, after the commit (its session is removed
        # right after, so nothing goes stale): a listener or test holding an alert reads its ids
        db.session().expire_on_commit = False
        db.session.info[BATCH_CACHE] = {}
        _watch_commits()
        results: list = []
        try:
            results = [ticket.work() for ticket in batch]
            _one_ring_per_bell()
            db.session.commit()
        except Exception as exc:
            if db.session().info.pop(COMMITTED, False):  # the COMMIT went through; what failed came after it
                log.exception("a listener failed after a batch committed; its requests are answered")
                db.session.remove()
                self.batches += 1
                for ticket, result in zip(batch, results, strict=True):
                    ticket.finish(result)
                return
            _rollback()
            if len(batch) == 1:
                batch[0].finish(error=exc)
                return
            log.warning("a batch of %d failed (%s); each request runs alone", len(batch), type(exc).__name__)
            for ticket in batch:
                self._alone(ticket)
            return
        finally:
            db.session.remove()
        self.batches += 1
        for ticket, result in zip(batch, results, strict=True):
            ticket.finish(result)

    def _alone(self, ticket: Ticket) -> None:
        db.session().expire_on_commit = False
        db.session.info[BATCH_CACHE] = {}
        try:
            result = ticket.work()
            db.session.commit()
        except Exception as exc:
            _rollback()
            ticket.finish(error=exc)
        else:
            ticket.finish(result)
        finally:
            db.session.remove()


COMMITTED = "klaxon_group_committed"  # session.info: the batch's COMMIT went through


def _mark_committed(session) -> None:
    session.info[COMMITTED] = True


def _watch_commits() -> None:
    """Before any other after_commit listener (one may raise), note that the COMMIT went through:
    a batch committed must never be run again as if it had not."""
    from sqlalchemy import event

    if not event.contains(db.session, "after_commit", _mark_committed):
        event.listen(db.session, "after_commit", _mark_committed, insert=True)


def _one_ring_per_bell() -> None:
    """Every alert of a batch rang the same dispatch bell: ring it once after the commit, not N times."""
    pending = db.session.info.get(queue.PENDING_KEY)
    if pending:
        kept, seen = [], set()
        for item in pending:
            if item[0] == "bell":
                if item in seen:
                    continue
                seen.add(item)
            kept.append(item)
        db.session.info[queue.PENDING_KEY] = kept


def _rollback() -> None:
    db.session.info.pop(BATCH_CACHE, None)
    try:
        db.session.rollback()
    except Exception:  # a dead connection: the session is removed next
        log.warning("rollback after a failed batch failed too")


_writers: dict[int, Writer] = {}
_start = threading.Lock()


def writer(app) -> Writer:
    """This process's writer for ``app`` (a new one after a fork, as threads do not survive it, or
    after the last one ended idle)."""
    key = id(app)
    found = _writers.get(key)
    if found is not None and found.app is app and found.pid == os.getpid() and not found.closed:
        return found
    with _start:
        for stale in [k for k, w in _writers.items() if w.closed or w.pid != os.getpid()]:
            del _writers[stale]
        found = _writers.get(key)
        if found is None or found.app is not app or found.closed:
            found = _writers[key] = Writer(app, threads_for(app))
        return found


def threads_for(app) -> int:
    """Writer threads per process: one for SQLite (one writer at a time anyway); on PostgreSQL,
    which writes concurrently, WRITERS_PG, so one batch's round trips do not hold up the next's,
    but no more than WRITERS_PG_IN_ALL for all web processes together (at least one each).
    Few, because each thread's batches are smaller, and a batch's fixed cost (BEGIN, the version
    read, COMMIT, the bell) is most of the writer's CPU (bench.writer: 1.13 against 1.58 ms per
    alert); with two threads in each of four web processes the batches shrank so far (1.5–2.0
    commits per alert) that four processes took fewer alerts/s than two (BENCHMARKS.md)."""
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            return 1
    return max(1, min(WRITERS_PG, WRITERS_PG_IN_ALL // app.config["KLAXON"].web_workers))


def submit(work: Callable[[], Any], wait: float) -> Any:
    """Run ``work`` in the current app's writer, in a batch's transaction; its result once committed."""
    from flask import current_app

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    for _ in range(3):  # a writer ends only when idle, so a second try finds a fresh one
        try:
            return writer(app).submit(work, wait)
        except Closed:
            continue
    raise WriterBusy(wait)


def _after_fork_in_child() -> None:
    """The parent's writers (and a lock another thread may have held) do not exist in a child."""
    global _start
    _start = threading.Lock()
    _writers.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)
