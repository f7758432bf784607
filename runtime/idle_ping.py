"""A pooled server connection (PostgreSQL) is pinged before use only if it sat idle (issue 17).

SQLAlchemy's ``pool_pre_ping`` sends ``SELECT 1`` at every checkout: one more round trip for every
group-commit batch and two for every dispatch round, though under load a connection was in use a
few milliseconds before. Here a connection is pinged only when it comes out of the pool after more
than ``IDLE_SECONDS`` unused (a database restarted meanwhile has cut it); a ping that fails makes
the pool drop every connection it holds and hand out a fresh one (``InvalidatePoolError``), as the
pre-ping did. A connection cut while it was busy, or in the moment since, fails its first
statement instead; the app answers that one request with SPEC §2's 503, and SQLAlchemy then drops
every connection opened before it. SQLite engines are left alone (no server to lose).
"""
from __future__ import annotations

import time
import weakref

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InvalidatePoolError

IDLE_SECONDS = 1.0
CHECKED_IN = "klaxon_checked_in"  # connection record info: monotonic time it went back to the pool
pings = 0  # for tests
_hooked: weakref.WeakSet[Engine] = weakref.WeakSet()


def configure(engine: Engine) -> None:
    """Hook ``engine``'s pool (idempotent); a SQLite engine is left as it is."""
    if engine.dialect.name == "sqlite" or engine in _hooked:
        return
    _hooked.add(engine)
    dialect = engine.dialect

    def ping_if_idle(dbapi_connection, record, _proxy) -> None:
        global pings
        idle_since = record.info.get(CHECKED_IN)
        if idle_since is not None and time.monotonic() - idle_since <= IDLE_SECONDS:
            return
        pings += 1
        if not dialect._do_ping_w_event(dbapi_connection):  # what pool_pre_ping runs; False: disconnected
            raise InvalidatePoolError("an idle connection was lost")  # the pool drops them all, as pre-ping's

    event.listen(engine, "connect", _fresh)
    event.listen(engine, "checkin", _fresh)
    event.listen(engine, "checkout", ping_if_idle)


def _fresh(_dbapi_connection, record) -> None:
    if record is not None:
        record.info[CHECKED_IN] = time.monotonic()
