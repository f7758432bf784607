"""`klaxon worker`: an RQ SimpleWorker (no fork per job) with the scheduler, plus the sweeper."""
from __future__ import annotations

import logging
import threading

from rq import SimpleWorker

import workers
from alerting.queue import QUEUES, redis_conn

log = logging.getLogger("klaxon.worker")


def run_worker(app, burst=False, sweeper=True) -> int:
    workers._app = app
    with app.app_context():
        conn = redis_conn()
        stop = threading.Event()
        if sweeper and not burst:
            from alerting.sweeper import sweep_forever

            thread = threading.Thread(target=sweep_forever, args=(app, stop), name="sweeper", daemon=True)
            thread.start()
        worker = SimpleWorker(list(QUEUES), connection=conn)
        try:
            worker.work(burst=burst, with_scheduler=not burst, logging_level=app.config["KLAXON"].log_level)
        finally:
            stop.set()
    return 0
