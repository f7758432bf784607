"""What each pytest-xdist worker uses of the given PostgreSQL and Redis, so workers never share state.

`make test` runs the suite in several pytest-xdist workers (gw0, gw1, …). Tests empty the
database and flush Redis before each test, so two workers on one database or Redis db would pull
rows and jobs from under each other. Each worker therefore gets, on the servers it was given:
- a database of its own, named after the given one: ``test`` becomes ``test_gw0``, ``test_gw1``, …
  (made afresh by the session, dropped and made again by the next run);
- a Redis db of its own: the given number plus the worker's index (``/1`` becomes ``/1``, ``/2``, …).
Without xdist (``-p no:xdist`` or ``-n 0``) the given URLs are used as they are. SQLite and the
embedded Redis need nothing: every worker has its own temp directory and its own embedded Redis.
"""
from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

WORKER = os.environ.get("PYTEST_XDIST_WORKER")  # "gw0", "gw1", … in an xdist worker, else None


def worker_index() -> int | None:
    return int(WORKER.removeprefix("gw")) if WORKER else None


def database_of_this_worker(url: str | None) -> str | None:
    """The given database URL, or under xdist the URL of this worker's database on the same server."""
    if not url or WORKER is None:
        return url
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    return parsed.set(database=f"{parsed.database}_{WORKER}").render_as_string(hide_password=False)


def redis_of_this_worker(url: str | None) -> str | None:
    """The given Redis URL, or under xdist the same server with db number (given + worker index)."""
    if not url or WORKER is None:
        return url
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise RuntimeError(f"tests under pytest-xdist need a redis:// URL to give each worker a db, got {url!r}")
    number = int(parts.path.strip("/") or 0) + worker_index()
    return urlunsplit(parts._replace(path=f"/{number}"))


def recreate_database(server_url: str, name: str) -> str:
    """Drop (if there) and create database ``name`` on the server of ``server_url``; return its URL."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    url = make_url(server_url.replace("postgresql://", "postgresql+psycopg://", 1))
    engine = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)
