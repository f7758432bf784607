"""create_app hooks its own engine and session: SQLite pragmas, BEGIN IMMEDIATE and the writer lock,
jobs queued after commit and dropped after rollback. Nothing is hooked at import time."""
import threading
import time

import pytest
from rq import Queue
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from alerting import jobs
from app import create_app, wire_database
from extensions import db
from runtime import queue, sqlite


def writer_is_free() -> bool:
    """Can another thread take this process's SQLite writer lock right now?"""
    got = []

    def take():
        if sqlite._WRITER.acquire(timeout=1):
            sqlite._WRITER.release()
            got.append(True)
    thread = threading.Thread(target=take)
    thread.start()
    thread.join()
    return bool(got)


@pytest.fixture
def on_sqlite(app):
    if db.engine.dialect.name != "sqlite":
        pytest.skip("SQLite only")
    db.session.remove()  # no transaction of ours holds the writer lock when the test starts


def test_nothing_is_hooked_on_the_classes():
    assert not event.contains(Engine, "connect", sqlite._pragmas)
    assert not event.contains(Engine, "begin", sqlite._begin_immediate)
    assert not event.contains(Session, "after_commit", queue._run_after_commit)
    assert not event.contains(Session, "after_rollback", queue._drop_after_rollback)


def test_a_sqlite_engine_gets_wal_a_busy_timeout_and_foreign_keys(on_sqlite):
    started = time.monotonic()
    with db.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        # SQLite's own wait is what is left of KLAXON_DB_LOCK_TIMEOUT_SECONDS (5 s) once this process's
        # writer turn was taken at BEGIN (runtime/sqlite.py): 5000 ms less the milliseconds spent so far
        busy = conn.execute(text("PRAGMA busy_timeout")).scalar()
        spent_ms = (time.monotonic() - started) * 1000
        assert 5000 - spent_ms - 1 <= busy <= 5000
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_a_transaction_holds_the_writer_lock_until_it_ends(on_sqlite):
    db.session.execute(text("SELECT 1"))
    assert not writer_is_free()
    db.session.commit()
    assert writer_is_free()
    db.session.execute(text("SELECT 1"))
    db.session.rollback()
    assert writer_is_free()


def test_wiring_twice_hooks_once(on_sqlite, app, settings):
    wire_database(app)
    create_app({"SETTINGS": settings, "TESTING": True})
    db.session.execute(text("SELECT 1"))  # a second BEGIN IMMEDIATE would fail inside the first
    db.session.commit()
    assert writer_is_free()


def test_ending_an_invalidated_connection_neither_raises_nor_keeps_the_lock(app):
    db.session.remove()
    conn = db.engine.connect()
    conn.begin()
    conn.invalidate()  # what a lost database connection does
    conn.rollback()
    conn.close()
    assert writer_is_free()


def test_other_databases_get_no_sqlite_hooks(app):
    hooked = event.contains(db.engine, "rollback", sqlite._end)
    assert hooked == (db.engine.dialect.name == "sqlite")


def test_jobs_are_queued_after_commit_and_dropped_after_rollback(app):
    flows = Queue("flows", connection=queue.redis_conn())
    db.session.execute(text("SELECT 1"))  # jobs are queued inside a transaction that wrote their rows
    jobs.RUN_FLOW.after_commit(4242)
    assert flows.count == 0  # not before the commit
    db.session.rollback()
    db.session.commit()
    assert flows.count == 0  # the rollback dropped it
    db.session.execute(text("SELECT 1"))
    jobs.RUN_FLOW.after_commit(4242)
    db.session.commit()
    [job] = flows.jobs
    assert (job.func_name, job.args, job.timeout) == (jobs.RUN_FLOW.function, (4242,), jobs.RUN_FLOW.timeout)
