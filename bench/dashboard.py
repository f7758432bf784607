"""Dashboard read path: p95 of the alerts list, one alert's page and the REST list with 100,000 alerts,
on SQLite and on PostgreSQL.

    python -m bench.dashboard [--alerts 100000] [--requests 100] [--database sqlite|postgresql|both]

Alerts (each with its EVENT_CREATED timeline entry and one notification) are written straight
into the serve's database with executemany: the point is reading them back. Prints one JSON line.
"""
from __future__ import annotations

import contextlib
import json
import os
import random
import re
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import requests

from bench.harness import api_setup, load, progress
from bench.scenario import create_configuration, serve, trigger
from config import parse_database_url

PG_ADMIN_URL = os.environ.get("KLAXON_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextlib.contextmanager
def scratch_database(admin, name: str):
    """A PostgreSQL database ``name`` on PG_ADMIN_URL's server, made on ``admin`` (an autocommit
    psycopg connection) for the ``with`` block and dropped after; yields its URL."""
    admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
TARGET_P95_MS = 100
CHUNK = 5000
STATUSES = ("TERMINATED_EXTERNAL",) * 6 + ("TERMINATED",) * 3 + ("ACTIVE",)


def seed(database_url: str, configuration_uuid: str, count: int) -> int:
    """Insert ``count`` alerts of one configuration, a timeline entry and a notification each; return one id."""
    from sqlalchemy import create_engine, func, select

    from models import Alert, Configuration, Notification, TimelineEntry

    engine = create_engine(parse_database_url("KLAXON_DATABASE_URL", database_url))
    rng, now = random.Random(9), _utcnow()
    try:
        with engine.begin() as conn:
            cfg_id = conn.execute(select(Configuration.id).where(Configuration.uuid == configuration_uuid)).scalar_one()
            first = (conn.execute(select(func.max(Alert.id))).scalar() or 0) + 1
            for start in range(0, count, CHUNK):
                rows = [_alert_row(cfg_id, rng, now - timedelta(seconds=(count - i) * 20), now)
                        for i in range(start, min(count, start + CHUNK))]
                conn.execute(Alert.__table__.insert(), rows)
            ids = [i for (i,) in conn.execute(select(Alert.id).where(Alert.id >= first).order_by(Alert.id))]
            for start in range(0, len(ids), CHUNK):
                chunk = ids[start:start + CHUNK]
                conn.execute(TimelineEntry.__table__.insert(),
                             [{"alert_id": i, "type": "EVENT_CREATED", "at": now, "detail": {}} for i in chunk])
                conn.execute(Notification.__table__.insert(), [_notification_row(i, now) for i in chunk])
    finally:
        engine.dispose()
    return ids[len(ids) // 2]


def vacuum(database_url: str) -> None:
    """VACUUM ANALYZE, as autovacuum would soon after a bulk load (index-only scans need the visibility map)."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def _utcnow():
    from models import utcnow

    return utcnow()


def _alert_row(cfg_id: int, rng: random.Random, created, now) -> dict:
    import uuid

    host = f"db-{rng.randrange(40)}"
    status = rng.choice(STATUSES)
    return {"uuid": str(uuid.uuid4()), "request_id": str(uuid.uuid4()), "configuration_id": cfg_id,
            "status": status, "priority": rng.choice(("HIGH", "MEDIUM", "LOW")),
            "subject": f"Disk full on {host}", "message": "Free space fell below 5%",
            "properties": {"Summary": f"Disk full on {host}", "Host": host}, "dedup_key": f"{host}/disk",
            "duplicate_count": 0, "recipients": [], "unresolved_recipients": [], "response_options": [],
            "suppressed": False, "dispatched_at": created,
            # open ones expire tomorrow: the sweeper must not be ending thousands of them mid-measurement
            "expires_at": (now if status == "ACTIVE" else created) + timedelta(days=1),
            "created_at": created, "updated_at": created,
            "terminated_at": created + timedelta(minutes=5) if status != "ACTIVE" else None}


def _notification_row(alert_id: int, now) -> dict:
    return {"alert_id": alert_id, "recipient": "bsmith", "device_name": "Ops hook", "kind": "webhook",
            "status": "Delivered", "attempts": 1, "result": "HTTP 200", "is_test": False, "created_at": now,
            "delivered_at": now}


def login(base: str, username: str, password: str) -> str:
    """Sign in through /login (CSRF token from the form); return the Cookie header value."""
    with requests.Session() as http:
        form = http.get(f"{base}/login", timeout=30).text
        token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form) or \
            re.search(r'value="([^"]+)"[^>]*name="csrf_token"', form)
        reply = http.post(f"{base}/login", data={"username": username, "password": password,
                                                  "csrf_token": token.group(1) if token else ""},
                          allow_redirects=False, timeout=30)
        if reply.status_code != 302:
            raise RuntimeError(f"login failed: HTTP {reply.status_code}")
        return "; ".join(f"{c.name}={c.value}" for c in http.cookies)


def check_page(url: str, headers: list[str], marker: str) -> None:
    """Fail loudly unless the page is the one meant (not a login form or an error page)."""
    reply = requests.get(url, headers=dict(h.split(":", 1) for h in headers), allow_redirects=False, timeout=30)
    if reply.status_code != 200 or marker not in reply.text:
        raise RuntimeError(f"GET {url.split('?')[0]}: HTTP {reply.status_code}, {marker!r} not in the page")


def time_get(url: str, headers: list[str], count: int) -> dict:
    """``count`` GETs one after another (after 3 to warm up), from the load generator's process."""
    load(url, duration=10, concurrency=1, method="GET", headers=headers, max_requests=3)
    got = load(url, duration=30, concurrency=1, method="GET", headers=headers, max_requests=count)
    return {"p50_ms": got["p50_ms"], "p95_ms": got["p95_ms"], "max_ms": got["max_ms"], "ok": got["ok"],
            "errors": got["errors"]}


def measure(server, database_url: str, alerts: int, count: int) -> dict:
    api = api_setup(server)
    made = server.cli("create-admin", "--username", "bench", "--password", "bench-password-1")
    if made.returncode != 0:
        raise RuntimeError(f"create-admin failed: {made.stderr[-300:]}")
    cfg = create_configuration(api, server.url, "Dashboard bench")
    started = time.perf_counter()
    middle = seed(database_url, cfg["uuid"], alerts)
    if database_url.startswith("postgresql"):
        vacuum(database_url)
    seeded_s = round(time.perf_counter() - started, 1)
    progress(f"dashboard: {alerts} alerts seeded in {seeded_s} s; timing pages")
    newest = trigger(server.url, cfg)[0]["eventIdentifier"]
    cookie = [f"Cookie:{login(server.url, 'bench', 'bench-password-1')}"]
    bearer = [f"Authorization:{api.headers['Authorization']}"]
    pages = {"alerts_list": (f"{server.url}/alerts", cookie, "alert-row"),
             "alerts_list_page_2000": (f"{server.url}/alerts?page=2000", cookie, "alert-row"),
             "alert_detail": (f"{server.url}/alerts/{newest}", cookie, "EVENT_CREATED"),
             "alert_detail_seeded": (f"{server.url}/alerts/{middle}", cookie, "EVENT_CREATED"),
             "api_alerts_list": (f"{server.url}/api/v1/alerts", bearer, '"eventIdentifier"'),
             "api_alert_get": (f"{server.url}/api/v1/alerts/{newest}", bearer, '"timeline"')}
    for url, headers, marker in pages.values():
        check_page(url, headers, marker)
    figures = {name: time_get(url, headers, count) for name, (url, headers, _) in pages.items()}
    return {"seed_s": seeded_s, **figures}


def run_sqlite(alerts: int, count: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="klaxon-bench-") as tmp:
        data_dir = Path(tmp) / "klaxon"
        with serve(data_dir, workers=1) as server:
            return measure(server, f"sqlite:///{data_dir / 'klaxon.db'}", alerts, count)


def run_postgresql(alerts: int, count: int) -> dict:
    import psycopg

    name = f"klaxon_bench_{os.getpid()}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        return {"skipped": f"PostgreSQL not reachable at {PG_ADMIN_URL}: {type(exc).__name__}"}
    try:
        with scratch_database(admin, name) as url, tempfile.TemporaryDirectory(prefix="klaxon-bench-") as tmp:
            with serve(Path(tmp) / "klaxon", workers=1, env={"KLAXON_DATABASE_URL": url}) as server:
                return measure(server, url, alerts, count)
    finally:
        admin.close()


def verdict(figures: dict) -> dict:
    keys = ("alerts_list", "alert_detail", "alert_detail_seeded")
    return {f"{key}_p95_ms<={TARGET_P95_MS}": figures[key]["ok"] > 0 and figures[key]["errors"] == 0
            and figures[key]["p95_ms"] <= TARGET_P95_MS for key in keys if key in figures}


def run(alerts=100_000, count=100, databases=("sqlite", "postgresql")) -> dict:
    result = {"bench": "dashboard", "alerts": alerts, "requests_per_page": count}
    for database in databases:
        progress(f"dashboard: {database}")
        figures = run_sqlite(alerts, count) if database == "sqlite" else run_postgresql(alerts, count)
        result[database] = figures
    result["targets"] = {f"{db}_{key}": ok for db in databases for key, ok in verdict(result[db]).items()}
    return result


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    args = parser.parse_args(argv)
    databases = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    print(json.dumps(run(args.alerts, args.requests, databases)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
