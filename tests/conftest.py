"""Fixtures: an app on a temp data dir, a real Redis and database, a job runner, signed-in clients.

By default every test gets a fresh SQLite file (copied from one migrated template) and the
session shares one embedded Redis. With KLAXON_TEST_DATABASE_URL / KLAXON_TEST_REDIS_URL (or
KLAXON_DATABASE_URL / KLAXON_REDIS_URL) set, tests use that PostgreSQL and Redis instead, and
the tables and Redis database are emptied before each test. Under pytest-xdist every worker has
a database and a Redis db of its own on those servers (tests/isolation.py).
"""
from __future__ import annotations

import os
import re
import shutil

import pytest
from jinja2 import BytecodeCache
from sqlalchemy import text
from sqlalchemy.engine import make_url

from config import load_settings
from tests.isolation import WORKER, database_of_this_worker, recreate_database, redis_of_this_worker
from tests.support import LiveKlaxon, Receiver, SmtpServer, empty_postgres_database, stop_live

TEST_DB = database_of_this_worker(os.environ.get("KLAXON_TEST_DATABASE_URL") or os.environ.get("KLAXON_DATABASE_URL"))
TEST_REDIS = redis_of_this_worker(os.environ.get("KLAXON_TEST_REDIS_URL") or os.environ.get("KLAXON_REDIS_URL"))
if WORKER:  # a subprocess that inherits the environment uses this worker's database and Redis too
    for _name, _value in (("DATABASE_URL", TEST_DB), ("REDIS_URL", TEST_REDIS)):
        for _var in (f"KLAXON_TEST_{_name}", f"KLAXON_{_name}"):
            if os.environ.get(_var):
                os.environ[_var] = _value


# --- one URL-builder compile per route for the whole run ------------------------------------------
# Werkzeug compiles two URL-builder functions (ast + compile) for every route each time an app is
# made: ~50 of the ~60 ms of create_app, and the tests make an app per test (~1,400 a run). The
# generated function depends only on the rule's parsed parts (its trace) and reads converters from
# the rule it is bound to, so one compile per distinct (trace, kind) serves every app. Rules whose
# defaults are folded into the builder are compiled as usual. Production makes one app per process.
def _memoize_url_builders():
    from werkzeug.routing.rules import Rule

    compile_builder = Rule._compile_builder
    compiled: dict = {}

    def memoized(self, append_unknown=True):
        if self.defaults:
            return compile_builder(self, append_unknown)
        key = (tuple(self._trace), append_unknown)
        if key not in compiled:
            compiled[key] = compile_builder(self, append_unknown)
        return compiled[key]

    Rule._compile_builder = memoized


_memoize_url_builders()


class _CompiledTemplates(BytecodeCache):
    """Jinja's bytecode cache in memory, shared by every app of this test process: each app has
    its own Jinja environment and would otherwise lex, parse and compile each dashboard template
    again (template loading took 3.5 s of 64 tests under cProfile, 0.5 s with this cache). A
    template's bytecode is keyed by its name and checked against its source's checksum (Jinja's
    Bucket), so an edited template is compiled anew."""

    def __init__(self):
        self.codes: dict[str, bytes] = {}

    def load_bytecode(self, bucket):
        code = self.codes.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket):
        self.codes[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = _CompiledTemplates()


# --- order: the long tests first, shared out between the xdist workers ----------------------------
# Seconds a test of these modules takes (SQLite, 2 workers, mean per test in the profile of 2aa102d,
# rounded); any other test marked `slow` counts SLOW_SECONDS, the rest FAST_SECONDS. Only the order
# depends on them.
LONG_MODULES = {
    "test_shared_redis_down": 79, "test_redis_restart": 24, "test_postgres_down": 20, "test_slow_clients": 15,
    "test_admin_walk": 14, "test_database_down": 14, "test_heartbeat_live": 13, "test_fuzz_api": 12,
    "test_flow_editor": 12, "test_people_browser": 9, "test_oncall_live": 9, "test_web_restart": 9,
    "test_maintenance_live": 9, "test_receiver_down": 8, "test_oncall_browser": 7, "test_flows_browser": 7,
    "test_worker_killed": 6, "test_webhooks_killed_worker": 5, "test_file_modes": 4, "test_ingest_kill": 4,
    "test_maintenance_heartbeat_browser": 4, "test_small_screens": 4, "test_embedded_redis_aof": 4,
    "test_worker_scheduler": 3, "test_serve": 2, "test_oncall_escalation": 2, "test_escalation": 2,
    "test_cli_where": 2}
SLOW_SECONDS, FAST_SECONDS = 6.0, 0.3


def expected_seconds(item) -> float:
    module = item.module.__name__.rsplit(".", 1)[-1] if item.module else ""
    if module in LONG_MODULES:
        return LONG_MODULES[module]
    return SLOW_SECONDS if item.get_closest_marker("slow") else FAST_SECONDS


@pytest.hookimpl(trylast=True)  # after -k/-m have deselected
def pytest_collection_modifyitems(config, items):
    """Long tests first, in each xdist worker's share. worksteal hands worker i the i-th contiguous
    share of this list and lets an idle worker take the *tail* of another's queue, so each share
    starts with its long modules (dealt out whole, longest first, so the shares' expected seconds
    are even, and a module's tests stay together in their order: tests/reliability/shared_serve.py
    keeps one server for a module's run of tests) and ends with the short tests, which get stolen:
    no worker ends the run alone with a long test. Without xdist: the long modules first."""
    workers = int(getattr(config, "workerinput", {}).get("workercount", 1))
    groups: dict[str, list] = {}
    short_items = []
    for item in items:
        if expected_seconds(item) > FAST_SECONDS:
            groups.setdefault(item.nodeid.split("::")[0], []).append(item)
        else:
            short_items.append(item)
    sizes, left = [], len(items)
    for n in range(workers):  # the shares worksteal's first schedule sends
        sizes.append(left // (workers - n))
        left -= sizes[-1]
    shares: list[list] = [[] for _ in range(workers)]
    load = [0.0] * workers
    for group in sorted(groups.values(), key=lambda g: -sum(expected_seconds(i) for i in g)):
        roomy = [n for n in range(workers) if len(shares[n]) + len(group) <= sizes[n]] or list(range(workers))
        n = min(roomy, key=lambda k: load[k])
        shares[n] += group
        load[n] += sum(expected_seconds(i) for i in group)
    for n in range(workers):
        room = max(0, sizes[n] - len(shares[n]))
        shares[n] += short_items[:room]
        short_items = short_items[room:]
    shares[-1] += short_items
    items[:] = [item for share in shares for item in share]


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
    from runtime import embedded_redis

    proc, url = embedded_redis.start(tmp_path_factory.mktemp("redis"), appendonly=False)
    yield url
    embedded_redis.stop(proc)


@pytest.fixture(scope="session")
def template_database(tmp_path_factory, redis_url):
    """Run the real migrations once: into a SQLite file to copy, or into the test PostgreSQL."""
    from app import create_app
    from cli import upgrade_database

    data_dir = tmp_path_factory.mktemp("template")
    if TEST_DB and WORKER:
        recreate_database(TEST_DB, make_url(TEST_DB).database)
    url = TEST_DB or f"sqlite:///{data_dir / 'klaxon.db'}"
    app = create_app({"SETTINGS": load_settings(env=base_env(data_dir, url, redis_url))})
    upgrade_database(app)
    with app.app_context():
        from extensions import db

        db.engine.dispose()
    return url if TEST_DB else data_dir / "klaxon.db"


def _empty_postgres(app):
    """What TRUNCATE … RESTART IDENTITY of every table does, for only the tables that have rows (a
    TRUNCATE of all of them took ~0.15 s a test), then every id sequence back to its start."""
    from extensions import db

    names = [t.name for t in db.metadata.sorted_tables]
    with db.engine.begin() as conn:
        used = conn.execute(text(" UNION ALL ".join(
            f"SELECT '{name}' WHERE EXISTS (SELECT 1 FROM \"{name}\")" for name in names))).scalars().all()
        if used:
            tables = ", ".join(f'"{name}"' for name in used)
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        conn.execute(text("SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, start_value, false) "
                          "FROM pg_sequences WHERE schemaname = current_schema()"))


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
    from app import create_app
    from extensions import db
    from runtime.queue import redis_for

    app = create_app({"SETTINGS": settings, "TESTING": True})
    app.jinja_env.bytecode_cache = COMPILED_TEMPLATES
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
    from runtime.queue import QUEUES, redis_conn
    from runtime.worker import PromptWorker

    def run(rounds=5):
        for _ in range(rounds):
            worker = PromptWorker(list(QUEUES), connection=redis_conn())
            worker.work(burst=True, with_scheduler=True, logging_level="WARNING")
            if not any(q for q in _queue_counts()):
                break
    def _queue_counts():
        from runtime.queue import queue_depths

        return queue_depths().values()
    return run


@pytest.fixture(scope="session")
def admin_password_hash():
    """The admin fixture's password hash, made once, with werkzeug's pbkdf2 at few rounds: the
    default scrypt costs ~0.1 s to make and ~0.1 s again at each fixture login (~15 s a run).
    Logging in still goes through the login form and check_password_hash; the product's own
    hashing is tested where it sets passwords (first-admin setup, people API, dashboard)."""
    from werkzeug.security import generate_password_hash

    return generate_password_hash("correct horse battery", method="pbkdf2:sha256:1000")


@pytest.fixture
def admin(app, admin_password_hash):
    from extensions import db
    from models import User

    user = User(username="admin", name="Ada Admin", role="admin", password_hash=admin_password_hash)
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
    return recreate_database(TEST_DB, f"{make_url(TEST_DB).database}_live")


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


# Test modules whose point is concurrent requests or load across the web processes: their live
# servers keep production's two web workers (KLAXON_WEB_WORKERS). Every other live server in the
# tests runs one (a web worker costs ~1.3 s of CPU to start: the app's imports); a module (or a
# test, with web_workers=) may ask for another number.
TWO_WEB_WORKERS = frozenset({
    "test_races", "test_inbound_concurrency", "test_oncall_live", "test_shared_redis_down", "test_postgres_down",
    "test_redis_restart"})


@pytest.fixture
def live_web_workers(request):
    """The web workers of this module's live servers: a module's LIVE_WEB_WORKERS, else 2 for the
    modules in TWO_WEB_WORKERS, else 1."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    return getattr(request.module, "LIVE_WEB_WORKERS", 2 if name in TWO_WEB_WORKERS else 1)


@pytest.fixture
def live_klaxon(tmp_path, live_env, template_database, live_web_workers):
    """Factory: live_klaxon(env=..., workers=..., web_workers=..., fresh_database=...) -> a started
    LiveKlaxon, stopped after the test. One RQ worker unless a test asks for more (``workers=2``
    where its point is two workers: sweeps or a kill across them, races between them); each
    worker costs ~1.2 s of CPU to start (the app's imports).

    SQLite: the data dir starts with a copy of the migrated template database (what a second start
    finds; the serve then builds no app to migrate), unless ``fresh_database`` (the serve makes it)
    or the env names another database."""
    started = []

    def start(env=None, workers=1, web_workers=None, fresh_database=False):
        merged = dict(live_env)
        merged.update(env or {})
        if web_workers or "KLAXON_WEB_WORKERS" not in merged:
            merged["KLAXON_WEB_WORKERS"] = str(web_workers or live_web_workers)
        if TEST_DB:
            empty_postgres_database(live_env["KLAXON_DATABASE_URL"])
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
        if not TEST_DB and not fresh_database and not server.env.get("KLAXON_DATABASE_URL"):
            server.data_dir.mkdir(parents=True, exist_ok=True)
            shutil.copy(template_database, server.data_dir / "klaxon.db")
        started.append(server)
        return server.start()

    yield start
    for server in started:
        stop_live(server)
