"""The worker's scheduler thread takes RQ's scheduler lock and moves a delayed job onto its
queue when it is due (not when the sweeper happens to find the row)."""
import threading
import time
from datetime import timedelta

from rq import Queue
from rq.job import JobStatus

from runtime import worker
from runtime.queue import QUEUES, redis_conn


def test_the_scheduler_takes_its_lock_and_queues_a_delayed_job_when_due(app):
    conn = redis_conn()
    queue = Queue(next(iter(QUEUES)), connection=conn)
    job = queue.enqueue_in(timedelta(seconds=1), "builtins.print", "due")
    assert job.get_status() == JobStatus.SCHEDULED
    stop = threading.Event()
    thread = threading.Thread(target=worker.schedule_forever, args=(conn, stop), daemon=True)
    started = time.monotonic()
    thread.start()
    try:
        deadline = started + 10
        while job.get_status(refresh=True) != JobStatus.QUEUED and time.monotonic() < deadline:
            time.sleep(0.05)
        assert job.get_status(refresh=True) == JobStatus.QUEUED, "the delayed job was never queued"
        assert time.monotonic() - started < 4, "queued late: the scheduler did not hold its lock"
        assert conn.exists(f"rq:scheduler-lock:{queue.name}"), "no scheduler lock in Redis"
    finally:
        stop.set()
        thread.join(5)
    assert not conn.exists(f"rq:scheduler-lock:{queue.name}"), "the lock outlived the stopped scheduler"
