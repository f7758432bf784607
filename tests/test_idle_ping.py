"""A pooled PostgreSQL connection is pinged only after it sat idle (runtime/idle_ping.py, issue 17):
busy connections go straight back to work, and one cut while it idled is replaced at checkout, as
SQLAlchemy's pool_pre_ping did, so the request that gets it never sees the cut."""
import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from extensions import db
from runtime import idle_ping
from tests.conftest import TEST_DB

pytestmark = pytest.mark.skipif(not TEST_DB or not TEST_DB.startswith("postgresql"),
                                reason="PostgreSQL only (CI pass 2): SQLite has no server connection to lose")


def backend_pid() -> int:
    pid = db.session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    db.session.commit()
    return pid


def cut(pid: int) -> None:
    """End the server side of connection ``pid`` (as a restart of PostgreSQL would)."""
    url = TEST_DB.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url, autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]
        for _ in range(100):  # until the server has let it go
            if not admin.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchone():
                break
            admin.execute("SELECT pg_sleep(0.02)")


def test_a_connection_in_steady_use_is_not_pinged(app):
    backend_pid()  # the pool's connection, fresh
    before = idle_ping.pings
    pids = {backend_pid() for _ in range(20)}
    assert idle_ping.pings == before  # 20 checkouts, not one SELECT 1
    assert len(pids) == 1


def test_a_connection_cut_while_idle_is_replaced_at_checkout(app, monkeypatch):
    old = backend_pid()
    cut(old)
    monkeypatch.setattr(idle_ping, "IDLE_SECONDS", 0.0)  # as if it had idled past the threshold
    before = idle_ping.pings
    new = backend_pid()  # no error: the ping found it dead and the pool connected afresh
    assert new != old
    assert idle_ping.pings > before  # (the fresh connection is pinged too: the threshold is 0 here)


def test_a_connection_cut_in_the_moment_since_its_last_use_fails_its_first_statement_only(app, monkeypatch):
    """What the idle threshold gives up (the 503 of one request), and that it lasts one statement."""
    old = backend_pid()
    cut(old)
    monkeypatch.setattr(idle_ping, "IDLE_SECONDS", 3600.0)
    with pytest.raises(OperationalError):
        backend_pid()
    db.session.rollback()
    assert backend_pid() != old  # the failed statement dropped the pool's connections
