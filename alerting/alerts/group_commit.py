"""Group commit for the integration URL: one transaction per batch, led by a request's own thread.

A request thread does everything that only reads (its configuration, the key, parsing, the rate
limit) before any write lock, then hands ``work`` (a function that writes through ``db.session``
and returns what the 202 needs) to ``submit``. If no batch is running (on PostgreSQL: fewer than
the process's slots), the request leads: in its own thread it takes every ticket waiting, runs
their work one after the other in ONE transaction and commits. Requests that arrive meanwhile
queue; the next leader is the first of them, and it takes all the others. Each request is
answered only after its batch has committed, so the 202 still means "durably stored".
(Until 5 Dec 2026 a writer thread of its own ran every batch: two thread hand-overs more per
request; leading from the request's thread took 6-20 % less web CPU per alert, BENCHMARKS.md.)

If any work of a batch raises, or the commit fails, the whole batch is rolled back (no partial
alert) and each of its tickets is run again alone, in a transaction of its own: a bad request
or a deadlock fails only the requests that fail by themselves, as they did before batching.

A request waits at most ``wait`` seconds (the database lock timeout) for a leader to take its
ticket; a ticket not yet taken by then is withdrawn (it will never run) and the request answers
503. Once taken, the request waits for its batch's outcome (which the database's own lock
timeout bounds), so a request never answers non-202 for an alert that was stored.
"""
from __future__ import annotations

import collections
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy.exc import OperationalError

from extensions import db
from runtime import queue

log = logging.getLogger("klaxon.group_commit")
MAX_BATCH = 64  # tickets per transaction
TAKEN_BACKSTOP_SECONDS = 120
WRITERS_PG = 2
WRITERS_PG_IN_ALL = 4  # batches at once in all web processes together, at least one per process
QUEUED, TAKEN, WITHDRAWN = "queued", "taken", "withdrawn"
# session.info: reads that stay valid for one batch's transaction (e.g. the maintenance windows,
# which no work of a batch writes); present only while a batch runs, emptied on its rollback
BATCH_CACHE = "klaxon_batch_cache"


def batch_cache() -> dict | None:
    """The running batch's cache of reads, or None outside a group-commit batch (then read afresh)."""
    return db.session.info.get(BATCH_CACHE)


class WriterBusy(OperationalError):
    """No leader took the ticket in time (answered with SPEC §2's 503)."""

    def __init__(self, wait: float):
        super().__init__("group commit", {}, Exception(f"no writer turn within {wait:g} s"))


class Ticket:
    """One request's work. Its state changes under its writer's lock; ``wake`` is set when it is
    finished or when it is made the next leader (``lead``)."""

    def __init__(self, work: Callable[[], Any]):
        self.work = work
        self.state = QUEUED
        self.lead = False  # made the next leader, not yet woken to it
        self.designated = False  # made a leader at all (a slot's hand-over skips it)
        self.finished = False
        self.wake = threading.Event()
        self.result: Any = None
        self.error: BaseException | None = None

    def finish(self, result: Any = None, error: BaseException | None = None) -> None:
        self.result, self.error = result, error
        self.finished = True
        self.wake.set()


class Writer:
    """The group commit of one process (a new one after a fork): leader and followers.

    A request that finds fewer than ``slots`` batches running leads: in its own thread (in an app
    context of its own, so a session of its own) it takes every ticket waiting, its own included,
    runs them in one transaction and commits. Requests arriving meanwhile queue and wait; when a
    leader has committed, the first ticket still queued is made the next leader, and it takes all
    that queued behind it. A request's path hands over to no other thread unless it arrives while
    a batch runs, and then once (to wake it: its batch committed, or it leads next)."""

    def __init__(self, app, threads: int = 1):
        self.app = app
        self.slots = threads  # batches that may run at once (leaders)
        self.pid = os.getpid()
        self.batches = 0  # committed batches, for tests and the bench
        self.lock = threading.Lock()
        self.tickets: collections.deque[Ticket] = collections.deque()  # queued, oldest first
        self.leading = 0

    def submit(self, work: Callable[[], Any], wait: float) -> Any:
        """``work``'s result once its batch committed; raises its error, or WriterBusy."""
        ticket = Ticket(work)
        with self.lock:
            self.tickets.append(ticket)
            lead = self.leading < self.slots
            if lead:
                self.leading += 1
        if not lead:
            lead = self._follow(ticket, wait)
        if lead:
            self._lead(ticket)
        # unfinished here: the leader of another slot took it first, and its batch answers
        if not ticket.finished and not ticket.wake.wait(TAKEN_BACKSTOP_SECONDS):
            log.error("a taken ticket had no outcome within %d s", TAKEN_BACKSTOP_SECONDS)
            raise WriterBusy(TAKEN_BACKSTOP_SECONDS)
        if ticket.error is not None:
            raise ticket.error
        return ticket.result

    def _follow(self, ticket: Ticket, wait: float) -> bool:
        """Wait for the ticket's batch; True if the ticket was made the next leader instead. A
        ticket no leader took within ``wait`` is withdrawn (it will never run): WriterBusy. Once
        taken, its batch is bounded by the database's own lock timeout (the backstop is a backstop)."""
        deadline = time.monotonic() + wait
        backstop = deadline + TAKEN_BACKSTOP_SECONDS
        while True:
            ticket.wake.wait(max(0.0, (deadline if ticket.state == QUEUED else backstop) - time.monotonic()))
            with self.lock:
                if ticket.lead:  # first: a slot handed over is taken even if another leader ran the ticket
                    ticket.lead = False
                    ticket.wake.clear()
                    return True
                if ticket.finished:
                    return False
                if ticket.state == QUEUED and time.monotonic() >= deadline:
                    ticket.state = WITHDRAWN
                    self.tickets.remove(ticket)
                    raise WriterBusy(wait)
            if time.monotonic() >= backstop:
                log.error("a taken ticket had no outcome within %d s", TAKEN_BACKSTOP_SECONDS)
                raise WriterBusy(TAKEN_BACKSTOP_SECONDS)

    def _lead(self, own: Ticket) -> None:
        """Commit batches of what is queued until ``own`` is done or taken by another slot's leader
        (PostgreSQL's two), then pass the lead on."""
        try:
            while not own.finished:
                with self.lock:
                    batch = [self.tickets.popleft() for _ in range(min(MAX_BATCH, len(self.tickets)))]
                    for ticket in batch:
                        ticket.state = TAKEN
                if not batch:  # own is in the batch of another slot's leader
                    break
                try:
                    with self.app.app_context():
                        self._commit(batch)
                except BaseException as exc:  # every taken request gets an answer, whatever happened
                    log.exception("group commit failed outside a transaction")
                    for ticket in batch:
                        if not ticket.finished:
                            ticket.finish(error=exc)
                    if not isinstance(exc, Exception):
                        raise
        finally:
            with self.lock:  # the first queued ticket not already made a leader (by another slot) leads next
                nxt = next((ticket for ticket in self.tickets if not ticket.designated), None)
                if nxt is not None:
                    nxt.lead = nxt.designated = True
                    nxt.wake.set()
                else:
                    self.leading -= 1

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
    """This process's writer for ``app`` (a new one after a fork, as locks do not survive it)."""
    key = id(app)
    found = _writers.get(key)
    if found is not None and found.app is app and found.pid == os.getpid():
        return found
    with _start:
        for stale in [k for k, w in _writers.items() if w.pid != os.getpid()]:
            del _writers[stale]
        found = _writers.get(key)
        if found is None or found.app is not app:
            found = _writers[key] = Writer(app, threads_for(app))
        return found


def threads_for(app) -> int:
    """Batches at once (leaders) per process: one for SQLite (one writer at a time anyway); on
    PostgreSQL, which writes concurrently, WRITERS_PG, so one batch's round trips do not hold up
    the next's, but no more than WRITERS_PG_IN_ALL for all web processes together (at least one each).
    Few, because each thread's batches are smaller, and a batch's fixed cost (BEGIN, the version
    read, COMMIT, the bell) is most of the writer's CPU (bench.writer: 1.13 against 1.58 ms per
    alert); with two threads in each of four web processes the batches shrank so far (1.5–2.0
    commits per alert) that four processes took fewer alerts/s than two (BENCHMARKS.md)."""
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            return 1
    return max(1, min(WRITERS_PG, WRITERS_PG_IN_ALL // app.config["KLAXON"].web_workers))


def submit(work: Callable[[], Any], wait: float) -> Any:
    """Run ``work`` in the current app's group commit, in a batch's transaction; its result once committed."""
    from flask import current_app

    return writer(current_app._get_current_object()).submit(work, wait)  # type: ignore[attr-defined]


def _after_fork_in_child() -> None:
    """The parent's writers (and a lock another thread may have held) do not exist in a child."""
    global _start
    _start = threading.Lock()
    _writers.clear()


os.register_at_fork(after_in_child=_after_fork_in_child)
