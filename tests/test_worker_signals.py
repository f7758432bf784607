"""A stop signal that reaches an idle worker in the middle of a log call (runtime/worker.py): the
worker still stops at once, and the log shows no "--- Logging error ---" traceback."""
import io
import logging
import os
import signal
import sys
import threading
import time

import pytest
from redis import Redis
from rq.exceptions import StopRequested

from runtime.worker import KlaxonWorker, in_logging
from tests.support import wait_until


class StopWhileEmitting(logging.Handler):
    """A handler whose emit is interrupted by SIGTERM, as `klaxon serve`'s stop can interrupt a
    worker's "Listening on" line."""

    def emit(self, record):  # as logging.StreamHandler.emit: an exception goes to handleError
        try:
            os.kill(os.getpid(), signal.SIGTERM)  # the signal handler runs here, inside logging
            self.stream.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)

    def __init__(self, stream):
        super().__init__()
        self.stream = stream


@pytest.fixture
def saved_handlers():
    saved = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)}
    yield
    signal.setitimer(signal.ITIMER_REAL, 0)
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_a_stop_during_a_log_line_stops_the_idle_worker_without_a_logging_error(redis_url, saved_handlers,
                                                                                  monkeypatch):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signals reach only the main thread")
    stderr = io.StringIO()
    monkeypatch.setattr("sys.stderr", stderr)  # where logging reports an error in a handler
    stopping = threading.Event()
    worker = KlaxonWorker(["klaxon-signal-test"], connection=Redis.from_url(redis_url), stopping=stopping)
    worker._install_signal_handlers()
    logger = logging.getLogger("klaxon.test.worker_signals")
    logger.propagate = False
    out = io.StringIO()
    logger.addHandler(StopWhileEmitting(out))
    try:
        with pytest.raises(StopRequested):
            logger.warning("*** Listening on the queues")
            # until the deferred stop comes, RQ's loop would stop before taking another job
            assert worker._stop_requested
            deadline = time.monotonic() + 2
            while time.monotonic() < deadline:  # where the worker would wait in BLPOP
                time.sleep(0.001)
    finally:
        logger.handlers.clear()
    assert stopping.is_set()
    assert "Listening on the queues" in out.getvalue(), "the log line was cut short"
    assert "Logging error" not in stderr.getvalue() and "Traceback" not in stderr.getvalue()


def test_in_logging_sees_a_frame_inside_the_logging_module():
    seen = []

    class Look(logging.Handler):
        def emit(self, record):
            import sys
            seen.append(in_logging(sys._getframe()))

    logger = logging.getLogger("klaxon.test.in_logging")
    logger.propagate = False
    logger.addHandler(Look())
    try:
        logger.warning("x")
    finally:
        logger.handlers.clear()
    import sys
    assert seen == [True] and in_logging(sys._getframe()) is False


def test_a_worker_whose_unsubscribe_reached_its_command_thread_first_still_ends_at_once(app):
    """RQ unsubscribes, then stops and joins its command thread; should the thread read the
    unsubscribe's reply before the stop, it sleeps a whole ``sleep_time`` before it looks again,
    and redis-py 8.2's stop() waits for it (RQ's 60 s: each such test worker took a minute to end)."""
    from runtime.queue import QUEUES, redis_conn
    from runtime.worker import PromptWorker

    worker = PromptWorker(list(QUEUES), connection=redis_conn())
    worker.subscribe()
    thread = worker.pubsub_thread
    wait_until(lambda: worker.pubsub.subscribed, 10, interval=0.01, message="the worker subscribed")
    worker.pubsub.unsubscribe()  # the thread reads the reply: now it sleeps, unsubscribed
    wait_until(lambda: not worker.pubsub.subscribed, 10, interval=0.01, message="the unsubscribe read")
    wait_until(lambda: sleeping_unsubscribed(thread), 10, interval=0.01, message="the thread asleep")
    ending = threading.Thread(target=worker.unsubscribe, daemon=True)
    ending.start()
    ending.join(5)
    assert not ending.is_alive(), "the worker's command thread kept it from ending"
    thread.join(5)
    assert not thread.is_alive()


def sleeping_unsubscribed(thread: threading.Thread) -> bool:
    """Whether ``thread`` waits inside PubSub.get_message for a subscription (its sleep_time)."""
    frame = sys._current_frames().get(thread.ident)
    names = []
    while frame is not None:
        names.append(frame.f_code.co_name)
        frame = frame.f_back
    return "get_message" in names and "wait" in names
