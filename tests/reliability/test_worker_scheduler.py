"""A worker SIGKILLed (as the OOM killer or `kill -9` would) takes its RQ scheduler with it: no
process of the worker survives it (none is left orphaned under PID 1 holding the scheduler lock),
the supervisor starts a replacement, and a stop of `klaxon serve` leaves no process behind.

Both modes alike: the scheduler runs with every worker whichever Redis it uses.
"""
import signal
import time

import psutil
import pytest

from tests.reliability.faults import wait_for_new, workers
from tests.support import wait_until

pytestmark = pytest.mark.slow


def alive(procs):
    found = []
    for proc in procs:
        try:
            if proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc)
        except psutil.NoSuchProcess:
            continue
    return found


def listening(server, count):
    """``count`` workers are taking jobs (each started its scheduler thread just before)."""
    return server.log_text().count("Listening on") >= count


def test_a_killed_worker_leaves_no_orphan_scheduler_and_a_stop_leaves_no_process(site, figures):
    klaxon = site(workers=2)
    wait_until(lambda: listening(klaxon.server, 2), 30, interval=0.1, message="both workers listening")
    before = workers(klaxon.server)
    everything = psutil.Process(klaxon.server.proc.pid).children(recursive=True)
    of_workers = {w.pid: w.children(recursive=True) for w in before}
    for worker in before:
        worker.send_signal(signal.SIGKILL)  # the worker only, not its process group
    theirs = [p for kids in of_workers.values() for p in kids]
    deadline = time.monotonic() + 3  # what the killed workers' processes get to end (was a fixed 3 s sleep)
    while alive(theirs) and time.monotonic() < deadline:
        time.sleep(0.05)
    orphans = alive(theirs)
    assert not orphans, f"processes of killed workers still running: {[(p.pid, p.ppid()) for p in orphans]}"
    wait_for_new(klaxon.server, workers, {w.pid for w in before})
    after = psutil.Process(klaxon.server.proc.pid).children(recursive=True)
    klaxon.server.proc.send_signal(signal.SIGTERM)  # to the supervisor only, as `docker stop` does
    klaxon.server.proc.wait(30)
    wait_until(lambda: not alive(everything + after), 20, interval=0.2, message="every process of the serve to end")
    figures.update(workers_killed=len(before), their_children=sum(len(k) for k in of_workers.values()),
                   orphans=len(orphans), processes_before_stop=len(after))
