"""Fixtures: an app on a temp data dir, a real Redis and database, a job runner, signed-in clients.

By default every test gets a fresh SQLite file (copied from one migrated template) and the
session shares one embedded Redis. With KLAXON_TEST_DATABASE_URL / KLAXON_TEST_REDIS_URL (or
KLAXON_DATABASE_URL / KLAXON_REDIS_URL) set, tests use that PostgreSQL and Redis instead, and
the tables and Redis database are emptied before each test.
"""
from __future__ import annotations

import os
import re
import shutil

import pytest
from sqlalchemy import text

from config import load_settings
from tests.support import LiveKlaxon, Receiver, SmtpServer

TEST_DB = os.environ.get("KLAXON_TEST_DATABASE_URL") or os.environ.get("KLAXON_DATABASE_URL")
TEST_REDIS = os.environ.get("KLAXON_TEST_REDIS_URL") or os.environ.get("KLAXON_REDIS_URL")


def base_env(data_dir, database_url, redis_url):
    return {
        "KLAXON_DATA_DIR": str(data_dir),
        "KLAXON_DATABASE_URL": database_url,
        "KLAXON_REDIS_URL": redis_url,
        "KLAXON_SECRET_KEY": "test-secret-key-not-for-production",
        "KLAXON_BASE_URL": "http://klaxon.test",
        "KLAXON_WEBHOOK_ALLOW_CIDRS": "127.0.0.0/8",
        "KLAXON_WEBHOOK_RETRY_SCHEDULE": "0,1,2,3",
        "KLAXON_NOTIFY_RETRY_SCHEDULE": "0,0,0",
        "KLAXON_SWEEP_INTERVAL": "0.5",
    }


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory):
    if TEST_REDIS:
        yield TEST_REDIS
        return
    from alerting import embedded_redis

    proc, url = embedded_redis.start(tmp_path_factory.mktemp("redis"), appendonly=False)
    yield url
    embedded_redis.stop(proc)


@pytest.fixture(scope="session")
def template_database(tmp_path_factory, redis_url):
    """Run the real migrations once: into a SQLite file to copy, or into the test PostgreSQL."""
    from app import create_app
    from cli import upgrade_database

    data_dir = tmp_path_factory.mktemp("template")
    url = TEST_DB or f"sqlite:///{data_dir / 'klaxon.db'}"
    app = create_app({"SETTINGS": load_settings(env=base_env(data_dir, url, redis_url))})
    upgrade_database(app)
    with app.app_context():
        from extensions import db

        db.engine.dispose()
    return url if TEST_DB else data_dir / "klaxon.db"


def _empty_postgres(app):
    from extensions import db

    names = ", ".join(t.name for t in db.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture
def database_url(tmp_path, template_database):
    if TEST_DB:
        return TEST_DB
    target = tmp_path / "data" / "klaxon.db"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(template_database, target)
    return f"sqlite:///{target}"


@pytest.fixture
def settings_env():
    """Override in a test module to change settings: return a dict of KLAXON_* values."""
    return {}


@pytest.fixture
def settings(tmp_path, database_url, redis_url, settings_env):
    env = base_env(tmp_path / "data", database_url, redis_url)
    env.update(settings_env)
    return load_settings(env=env)


@pytest.fixture
def app(settings):
    from alerting.queue import redis_for
    from app import create_app
    from extensions import db

    app = create_app({"SETTINGS": settings, "TESTING": True})
    redis_for(settings.redis_url).flushdb()
    with app.app_context():
        if TEST_DB:
            _empty_postgres(app)
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def run_jobs(app):
    """Process every queued (and due scheduled) job in this process, like a worker would."""
    from rq import SimpleWorker

    from alerting.queue import QUEUES, redis_conn

    def run(rounds=5):
        for _ in range(rounds):
            worker = SimpleWorker(list(QUEUES), connection=redis_conn())
            worker.work(burst=True, with_scheduler=True, logging_level="WARNING")
            if not any(q for q in _queue_counts()):
                break
    def _queue_counts():
        from alerting.queue import queue_depths

        return queue_depths().values()
    return run


@pytest.fixture
def admin(app):
    from extensions import db
    from models import User

    user = User(username="admin", name="Ada Admin", role="admin")
    user.set_password("correct horse battery")
    db.session.add(user)
    db.session.commit()
    return user


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or \
        re.search(r'"X-CSRFToken": "([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def login(client, username, password):
    page = client.get("/login")
    token = csrf_from(page.get_data(as_text=True))
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


@pytest.fixture
def admin_client(app, admin):
    client = app.test_client()
    response = login(client, "admin", "correct horse battery")
    assert response.status_code == 302
    return client


@pytest.fixture
def api_token(app):
    import secrets

    from extensions import db
    from models import ApiToken

    token = "kx_" + secrets.token_urlsafe(24)
    db.session.add(ApiToken(name="tests", token_hash=ApiToken.hash(token)))
    db.session.commit()
    return token


@pytest.fixture
def api(client, api_token):
    """A test client that sends the bearer token: api.get/post/patch/delete(path, json=...)."""
    class Api:
        def __getattr__(self, method):
            def call(path, **kwargs):
                headers = kwargs.pop("headers", {})
                headers.setdefault("Authorization", f"Bearer {api_token}")
                return getattr(client, method)(path, headers=headers, **kwargs)
            return call
    return Api()


@pytest.fixture
def receiver():
    with Receiver() as r:
        yield r


@pytest.fixture
def smtp_server():
    with SmtpServer() as s:
        yield s


@pytest.fixture(scope="session")
def live_database():
    """PostgreSQL mode: live servers get a database of their own (the test database's name + _live),
    so the per-test emptying of the test database never pulls rows from under a running server."""
    if not TEST_DB:
        return None
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    url = make_url(TEST_DB.replace("postgresql://", "postgresql+psycopg://", 1))
    name = f"{url.database}_live"
    engine = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


@pytest.fixture
def live_env(redis_url, live_database):
    """Environment for a live `klaxon serve` in tests: the test PostgreSQL/Redis when given."""
    env = {"KLAXON_SECRET_KEY": "live-test-secret", "KLAXON_WEBHOOK_RETRY_SCHEDULE": "0,1,2,3"}
    if TEST_DB:
        env["KLAXON_DATABASE_URL"] = live_database
    else:
        env.pop("KLAXON_DATABASE_URL", None)
    if TEST_REDIS:
        env["KLAXON_REDIS_URL"] = TEST_REDIS
    return env


@pytest.fixture
def live_klaxon(tmp_path, live_env, template_database):
    """Factory: live_klaxon(env=..., workers=...) -> a started LiveKlaxon, stopped after the test."""
    started = []

    def start(env=None, workers=2):
        merged = dict(live_env)
        merged.update(env or {})
        if TEST_DB:
            from sqlalchemy import create_engine

            engine = create_engine(live_env["KLAXON_DATABASE_URL"])
            with engine.begin() as conn:
                names = [r[0] for r in conn.execute(text(
                    "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename<>'alembic_version'"))]
                if names:
                    conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
            engine.dispose()
        if TEST_REDIS:
            from redis import Redis

            Redis.from_url(TEST_REDIS).flushdb()
        server = LiveKlaxon(tmp_path / f"live{len(started)}", env=merged, workers=workers)
        if not TEST_DB:
            env_default = os.environ.get("KLAXON_DATABASE_URL")
            if env_default:
                server.env.pop("KLAXON_DATABASE_URL")
        if not TEST_REDIS:
            server.env.pop("KLAXON_REDIS_URL", None)
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()
