"""`klaxon worker`: an RQ SimpleWorker (no fork per job), the RQ scheduler as a thread, the sweeper.

A worker outlives Redis: while Redis is away it waits, backing off up to ``REDIS_WAIT_MAX``
seconds, and works again once Redis answers; the sweeper keeps running meanwhile (the rows are
the ledger). The scheduler is a thread of the worker, not a forked process, so it dies with its
worker and never outlives it holding the scheduler lock.
"""
from __future__ import annotations

import importlib
import logging
import signal
import threading
import time

from redis import Redis
from redis.exceptions import RedisError, ResponseError
from rq import SimpleWorker
from rq.scheduler import RQScheduler
from rq.worker import WorkerStatus

import workers
from runtime.collector import freeze_what_started
from runtime.queue import QUEUES, redis_conn
from runtime.sweeper import sweep_forever

log = logging.getLogger("klaxon.worker")
REDIS_WAIT_MAX = 5.0  # seconds between two tries while Redis is away
SCHEDULE_EVERY = 1  # seconds between two looks at the delayed jobs: an int, as RQ sets its lock with EX interval + 60
LOCK_RETRY = 15.0  # seconds between two tries at the scheduler lock another worker holds
STOP_RETRY_SECONDS = 0.01  # a stop signal that came during a log call is acted on this much later


PUBSUB_WAKE_SECONDS = 0.2  # the longest a worker's command thread sleeps between two looks (RQ: 60)


class PromptWorker(SimpleWorker):
    """An RQ SimpleWorker that ends at once. RQ's thread for its commands (stop a job, shut down)
    waits up to 60 s at a time, and with redis-py 8.2 ``PubSubWorkerThread.stop()`` joins that
    thread with no timeout: a worker whose unsubscribe reached the thread before the stop waited
    the whole 60 s to end (every burst worker of the tests, a `klaxon worker` asked to stop)."""

    def subscribe(self):
        self.pubsub = self.connection.pubsub()
        self.pubsub.subscribe(**{self.pubsub_channel_name: self.handle_payload})
        self.pubsub_thread = self.pubsub.run_in_thread(
            sleep_time=PUBSUB_WAKE_SECONDS, daemon=True, exception_handler=self._pubsub_exception_handler)


class KlaxonWorker(PromptWorker):
    """An RQ SimpleWorker whose SIGINT/SIGTERM also stop Klaxon's wait-for-Redis loop."""

    max_connection_wait_time = REDIS_WAIT_MAX  # RQ's own back-off while dequeuing (default 60 s)

    def __init__(self, *args, stopping: threading.Event, **kwargs):
        super().__init__(*args, **kwargs)
        self.stopping = stopping

    def _install_signal_handlers(self):
        def on_signal(signum, frame):
            self.stopping.set()
            if self.get_state() != WorkerStatus.BUSY and in_logging(frame):
                # An idle RQ worker stops by raising StopRequested from the handler, which inside a
                # log call is caught by logging itself ("--- Logging error ---" and a traceback in
                # the log) and lost, so the worker would wait in BLPOP until it is killed. Raise
                # it once the log call is over instead. Should a job start first (its timeout takes
                # SIGALRM over), the loop still stops before the next one: _stop_requested.
                self._stop_requested = True
                signal.signal(signal.SIGALRM, lambda _signum, later: on_signal(signum, later))
                signal.setitimer(signal.ITIMER_REAL, STOP_RETRY_SECONDS)
                return
            self.request_stop(signum, frame)
        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)


def in_logging(frame) -> bool:
    """Whether ``frame`` (where a signal interrupted the main thread) is inside the logging module."""
    while frame is not None:
        if frame.f_code.co_filename == logging.__file__:
            return True
        frame = frame.f_back
    return False


def preload_jobs() -> list[str]:
    """Import every job's module, and apprise (which the notification jobs import when they first
    notify an Apprise device: ~0.1 s), before the first job, so the first alert after a start is
    dispatched as fast as the rest; returns the modules."""
    from alerting.jobs import JOBS

    modules = sorted({job.function.rpartition(".")[0] for job in JOBS})
    for module in modules:
        importlib.import_module(module)
    importlib.import_module("apprise")
    return modules


def run_worker(app, burst=False, sweeper=True) -> int:
    workers._app = app
    preload_jobs()
    freeze_what_started()  # what the app and the jobs loaded stays out of later collections (runtime/collector.py)
    level = app.config["KLAXON"].log_level
    with app.app_context():
        conn = redis_conn()
        stop = threading.Event()
        if burst:
            KlaxonWorker(list(QUEUES), connection=conn, stopping=stop).work(burst=True, logging_level=level)
            return 0
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        threads = [threading.Thread(target=schedule_forever, args=(conn, stop), name="scheduler", daemon=True)]
        if sweeper:
            threads.append(threading.Thread(target=sweep_forever, args=(app, stop), name="sweeper", daemon=True))
        for thread in threads:
            thread.start()
        try:
            work_while_redis_answers(conn, stop, level)
        finally:
            stop.set()
            threads[0].join(5)  # the scheduler releases its lock
    return 0


def work_while_redis_answers(conn: Redis, stop: threading.Event, level: str) -> None:
    """Run RQ workers one after another until ``stop``: each one ends when Redis goes away."""
    while wait_for_redis(conn, stop):
        worker = KlaxonWorker(list(QUEUES), connection=conn, stopping=stop)
        try:
            worker.work(with_scheduler=False, logging_level=level)
        except (RedisError, OSError) as exc:
            log.warning("worker lost Redis (%s); waiting for it", type(exc).__name__)
        stop.wait(1.0)  # whatever ended that worker, never spin
        for sig in (signal.SIGINT, signal.SIGTERM):  # RQ's handlers are gone with its worker
            signal.signal(sig, lambda *_: stop.set())


def wait_for_redis(conn: Redis, stop: threading.Event) -> bool:
    """Block until Redis answers (True) or ``stop`` is set (False), backing off up to REDIS_WAIT_MAX."""
    delay, since = 0.25, time.monotonic()
    while not stop.is_set():
        try:
            conn.ping()
            if time.monotonic() - since > 1:
                log.info("Redis answers again after %.0f s; working", time.monotonic() - since)
            return True
        except (RedisError, OSError) as exc:
            if delay >= REDIS_WAIT_MAX or delay == 0.25:
                log.warning("Redis is away (%s); alerts are kept in the database, waiting", type(exc).__name__)
        stop.wait(delay)
        delay = min(delay * 2, REDIS_WAIT_MAX)
    return False


def schedule_forever(conn: Redis, stop: threading.Event) -> None:
    """RQ's scheduler loop in this thread: move delayed jobs that are due onto their queues."""
    scheduler = RQScheduler(list(QUEUES), connection=conn, interval=SCHEDULE_EVERY)
    tried, refused = 0.0, ""
    while not stop.wait(SCHEDULE_EVERY):
        try:
            if scheduler.acquired_locks != set(QUEUES) and time.monotonic() - tried > LOCK_RETRY:
                tried = time.monotonic()
                if scheduler.acquire_locks():
                    scheduler.register_birth()
            if scheduler.acquired_locks:
                scheduler.heartbeat()
                scheduler.enqueue_scheduled_jobs()
        except ResponseError as exc:  # Redis answered "no": a bug to see in the log, not an outage to wait out
            if str(exc) != refused:
                refused = str(exc)
                log.error("the scheduler's Redis command was refused: %s", exc)
        except (RedisError, OSError):
            tried = 0.0  # Redis is away; try for the lock again as soon as it is back
    try:
        scheduler.stop()  # release the lock at once rather than after its 61 s expiry
    except (RedisError, OSError):
        pass
