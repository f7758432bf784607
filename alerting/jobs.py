"""The one job table: every RQ job Klaxon queues, with its queue, entry point and timeout.

RQ stores a job as the dotted path of its function, and the entry points in workers/ import
alerting/, so they are named here as strings. This is the only place a function is named by a
string: tests/test_jobs.py checks that each one resolves to a function in workers/ and that no
other module names one. The domain queues through these objects, e.g.
``jobs.DELIVER_UPDATE.after_commit(message.id)``.
"""
from __future__ import annotations

from dataclasses import dataclass

from runtime import queue


@dataclass(frozen=True)
class Job:
    """One kind of RQ job: ``function`` (in workers/) runs on ``queue`` for at most ``timeout`` seconds.

    A job with a ``bell`` is rung rather than queued per item: many commits share one pending
    job, which drains all the work of its kind (``ring_after_commit`` / ``answer``).
    """
    queue: str
    function: str
    timeout: int = 120
    bell: str | None = None

    def now(self, *args, job_id: str | None = None, delay: float | None = None) -> bool:
        """Queue the job now (or after ``delay`` seconds); False if Redis could not be reached."""
        return queue.enqueue_now(self.queue, self.function, *args, job_id=job_id, delay=delay,
                                 timeout=self.timeout)

    def after_commit(self, *args, job_id: str | None = None, delay: float | None = None) -> None:
        """Queue the job once the current transaction commits; nothing is queued on rollback."""
        queue.enqueue_after_commit(self.queue, self.function, *args, job_id=job_id, delay=delay,
                                   timeout=self.timeout)

    def ring_after_commit(self) -> None:
        """After commit, make sure one job is pending to drain the work of this bell."""
        queue.ring_after_commit(self._bell(), self.queue, self.function, timeout=self.timeout)

    def ring(self) -> None:
        """Make sure one job is pending to drain the work of this bell, now (no transaction)."""
        queue.ring(self._bell(), self.queue, self.function, timeout=self.timeout)

    def keep_rung(self) -> None:
        """Called by the draining job each round, so its bell lapses soon after it stops."""
        queue.keep_rung(self._bell())

    def answer(self) -> None:
        """Called by the draining job once it no longer takes new work, so later commits ring again."""
        queue.answer(self._bell())

    def _bell(self) -> str:
        if self.bell is None:
            raise TypeError(f"{self.function} is queued per item, not rung")
        return self.bell


# Dispatch every new alert: one job drains what many inbound requests rang for.
DISPATCH_PENDING = Job("notify", "workers.notify.dispatch_pending", bell="dispatch")
RETRY_NOTIFICATION = Job("notify", "workers.notify.retry_notification")
# One batch of a big wave, handed off by the worker that made it (notifications/batches.py).
SEND_BATCH = Job("notify", "workers.notify.send_batch")
ESCALATE_TARGET = Job("notify", "workers.notify.escalate_target")
DELIVER_UPDATE = Job("webhooks", "workers.webhooks.deliver_message")
RUN_FLOW = Job("flows", "workers.flows.run_flow")

JOBS = (DISPATCH_PENDING, RETRY_NOTIFICATION, SEND_BATCH, ESCALATE_TARGET, DELIVER_UPDATE, RUN_FLOW)
