"""Sending notifications: transports called from a small thread pool, outcomes handed back in batches.

Rows are never touched here: dispatch writes them in the calling thread.
"""
from __future__ import annotations

import logging
import os
import threading
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from dataclasses import dataclass

from alerting.notifications.transports import TransportError, transport_for

log = logging.getLogger("klaxon.notify")
BATCH = 64  # outcomes per commit
POOL_SIZE = 16
_pools: dict[int, ThreadPoolExecutor] = {}
_pools_lock = threading.Lock()


@dataclass
class Outcome:
    """What one send came to: ``result`` is the far end's note or the error."""
    ok: bool
    result: str
    permanent: bool = False


def _send_one(transports: dict, kind: str, target: str, msg) -> Outcome:
    try:
        return Outcome(True, transports[kind].send(target, msg))
    except TransportError as exc:
        return Outcome(False, exc.message, exc.permanent)
    except Exception as exc:  # a bug in one transport must not lose the other recipients' outcomes
        log.exception("sending a %s notification failed unexpectedly", kind)
        return Outcome(False, f"{kind}: {type(exc).__name__}: {exc}")


def send_batches(settings, sends: list[tuple], gather: float = 0.02):
    """Send ``(kind, target, message)`` items (pooled when several), yielding lists of ``(index, Outcome)``.

    Each list holds what finished since the last one (waiting at most ``gather`` seconds for more),
    so outcomes are written in a few short transactions instead of one per send or one held open.
    """
    if not sends:
        return
    transports = {kind: transport_for(kind, settings) for kind in {kind for kind, _, _ in sends}}
    if len(sends) == 1:
        yield [(0, _send_one(transports, *sends[0]))]
        return
    futures: dict = {}
    try:
        futures = {_pool().submit(_send_one, transports, *item): i for i, item in enumerate(sends)}
        waiting = set(futures)
        while waiting:
            done, waiting = wait(waiting, return_when=FIRST_COMPLETED)
            if waiting and len(done) < BATCH:
                more, waiting = wait(waiting, timeout=gather)
                done |= more
            yield [(futures[f], f.result()) for f in done]
    finally:  # closed early: what has not started never will, and nothing is left in flight
        for future in futures:
            future.cancel()
        wait(futures)


def _pool() -> ThreadPoolExecutor:
    """The process's sending threads, kept between jobs (a batch job would otherwise start 16 threads).

    Keyed by process: a forked child cannot use its parent's threads.
    """
    pid = os.getpid()
    pool = _pools.get(pid)
    if pool is None:
        with _pools_lock:
            pool = _pools.setdefault(pid, ThreadPoolExecutor(max_workers=POOL_SIZE, thread_name_prefix="notify"))
    return pool
