"""The writer turn among processes (runtime/sqlite.py): a flock beside the database, waited for by a
blocking flock in a thread, not by polling. Another process is played by a second open file of the
same lock file (flock locks belong to the open file, so it conflicts exactly as a process does)."""
import fcntl
import os
import threading
import time

import pytest
from sqlalchemy import create_engine

from runtime import sqlite


@pytest.fixture
def engine(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'turn.db'}")
    yield engine
    engine.dispose()


@pytest.fixture
def other_process(engine):
    """An open file of the lock file that is not this process's: lock() and unlock() it."""
    fd = os.open(f"{engine.url.database}-writer", os.O_RDWR | os.O_CREAT, 0o600)

    class Other:
        def lock(self):
            fcntl.flock(fd, fcntl.LOCK_EX)

        def unlock(self):
            fcntl.flock(fd, fcntl.LOCK_UN)

        def can_lock(self) -> bool:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            fcntl.flock(fd, fcntl.LOCK_UN)
            return True
    yield Other()
    os.close(fd)


def take(engine, seconds: float) -> None:
    sqlite._take_turn(engine, time.monotonic() + seconds)


def held_then_given_back(engine, other_process) -> None:
    """This process holds the turn (the other cannot lock), and gives it back (now it can)."""
    assert not other_process.can_lock()
    sqlite._give_turn(engine)
    assert other_process.can_lock()


def test_a_free_turn_is_taken_and_given_back(engine, other_process):
    take(engine, 1)
    held_then_given_back(engine, other_process)


def test_a_held_turn_is_waited_for_until_it_is_released(engine, other_process):
    other_process.lock()
    threading.Timer(0.3, other_process.unlock).start()
    started = time.monotonic()
    take(engine, 5)
    waited = time.monotonic() - started
    assert 0.25 <= waited < 4  # woken by the release, long before the deadline
    held_then_given_back(engine, other_process)


def test_waiting_for_the_turn_does_not_spin(engine, other_process):
    """The waiting thread sleeps in the kernel: a second of waiting costs (almost) no CPU."""
    other_process.lock()
    threading.Timer(1.0, other_process.unlock).start()
    cpu = time.thread_time()
    process_cpu = time.process_time()
    take(engine, 5)
    # measured on 2 Dec 2026: ~1 ms of CPU for the second, waiter thread included; polling every
    # 0.5 ms (before) cost 55 ms
    assert time.thread_time() - cpu < 0.02
    assert time.process_time() - process_cpu < 0.02
    sqlite._give_turn(engine)


def test_past_the_deadline_it_fails_and_the_late_waiter_gives_the_turn_back(engine, other_process):
    other_process.lock()
    with pytest.raises(Exception, match="database is locked"):
        take(engine, 0.2)
    other_process.unlock()
    # the abandoned waiter gets the lock and releases it at once; the next turn is a real one
    take(engine, 5)
    held_then_given_back(engine, other_process)


def test_while_an_abandoned_waiter_still_waits_a_new_turn_waits_for_it(engine, other_process):
    other_process.lock()
    with pytest.raises(Exception, match="database is locked"):
        take(engine, 0.1)
    with pytest.raises(Exception, match="database is locked"):
        take(engine, 0.1)  # the other process still holds it: the abandoned waiter is still waiting
    other_process.unlock()
    take(engine, 5)
    held_then_given_back(engine, other_process)


def test_one_waiting_thread_per_process_serves_every_wait(engine, other_process):
    """The thread that waits in flock is started once and kept, not started for each wait."""
    def waiters():
        return [t for t in threading.enumerate() if t.name == "klaxon-sqlite-turn"]

    before = len(waiters())
    for _ in range(3):
        other_process.lock()
        threading.Timer(0.05, other_process.unlock).start()
        take(engine, 5)
        held_then_given_back(engine, other_process)
    assert len(waiters()) == before + 1
