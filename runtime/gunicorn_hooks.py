"""gunicorn server hooks for `klaxon serve` and `klaxon web` (loaded as ``-c python:runtime.gunicorn_hooks``)."""
from __future__ import annotations

import os
import sys


def post_worker_init(worker) -> None:
    """The worker has built the app: keep what it loaded out of later garbage collections
    (runtime/collector.py), so a full collection does not stall every request thread for tens of ms."""
    from runtime.collector import freeze_what_started

    freeze_what_started()


def worker_exit(server, worker) -> None:
    """A web worker that stopped cleanly leaves at once.

    gthread's pool threads may be waiting for the first bytes of a browser's spare connection;
    Python's exit would join them until that read times out, and the master, tired of waiting,
    would SIGKILL the worker ("Perhaps out of memory?"). Every request is done by now, so nothing
    is lost. A worker that failed keeps gunicorn's own exit code (the master reads it).
    """
    if os.getpid() != worker.pid:  # the master calls this too, for a worker that is already gone
        return
    stopping = sys.exc_info()[1]
    if isinstance(stopping, SystemExit) and stopping.code in (0, None):
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
