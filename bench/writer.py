"""CPU per alert of the integration URL's group-commit writer, in-process (issue 17).

    python -m bench.writer [--threads 16] [--rounds 60] [--database postgresql]

Starts a `klaxon serve` with no workers (it migrates the database and runs Redis), then builds
the app in this process and posts ``rounds`` waves of ``threads`` alerts through the Flask test
client, each wave's requests at once, so they commit in batches as under load. For a
configuration without update webhooks and one with a status endpoint (one outbox message and one
RQ job per alert), it prints CPU ms per alert (``time.thread_time``) of the batches (run by the
leading request's thread) and of the requests' own work (without the batches they led), the mean
batch, and SQL statements per alert. CPU time moves far less with a shared machine's load than
wall time does, so this shows what a change to the write path saves before the throughput bench
(bench ingest) can. ``--database postgresql`` uses a scratch database on KLAXON_BENCH_PG's server
(dropped after).
"""
from __future__ import annotations

import argparse
import collections
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.harness import api_setup, progress
from bench.scenario import ALERT_BODY, create_configuration, serve, trigger_url

STATUS_ENDPOINT = {"status": {"url": "http://127.0.0.1:9/status", "enabled": True}}  # never posted: no workers


def measure(app, url: str, threads: int, rounds: int) -> dict:
    from sqlalchemy import event

    from alerting.alerts import group_commit
    from extensions import db

    statements: collections.Counter = collections.Counter()
    cpu = {"writer": 0.0, "request": 0.0}
    sizes: list[int] = []
    lock = threading.Lock()

    def count(conn, cursor, statement, params, context, executemany):
        statements[statement.split(None, 1)[0].upper()] += 1

    original = group_commit.Writer._commit

    in_batches = threading.local()  # a leading request thread runs batches: not the request's own CPU

    def timed(self, batch):
        started = time.thread_time()
        try:
            return original(self, batch)
        finally:
            used = time.thread_time() - started
            in_batches.cpu = getattr(in_batches, "cpu", 0.0) + used
            with lock:
                cpu["writer"] += used
                sizes.append(len(batch))

    clients = [app.test_client() for _ in range(threads)]

    def one(client):
        in_batches.cpu = 0.0
        started = time.thread_time()
        reply = client.post(url, data=ALERT_BODY, content_type="application/json")
        used = time.thread_time() - started - in_batches.cpu
        with lock:
            cpu["request"] += used
        if reply.status_code != 202:
            raise RuntimeError(f"trigger: HTTP {reply.status_code} {reply.get_data(as_text=True)[:300]}")

    for client in clients[:4]:  # warm: the configuration cached, statements compiled
        one(client)
    cpu.update(writer=0.0, request=0.0)
    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", count)
    group_commit.Writer._commit = timed  # type: ignore[method-assign]
    try:
        for _ in range(rounds):
            wave = [threading.Thread(target=one, args=(client,)) for client in clients]
            for thread in wave:
                thread.start()
            for thread in wave:
                thread.join(60)
    finally:
        group_commit.Writer._commit = original  # type: ignore[method-assign]
        with app.app_context():
            event.remove(db.engine, "before_cursor_execute", count)
    alerts = threads * rounds
    # through SQLAlchemy's engine only: the INSERTs alerting.alerts.rows runs on the DBAPI cursor are not counted
    return {"writer_cpu_ms_per_alert": round(cpu["writer"] * 1000 / alerts, 3),
            "request_cpu_ms_per_alert": round(cpu["request"] * 1000 / alerts, 3),
            "mean_batch": round(sum(sizes) / len(sizes), 2) if sizes else None,
            "sqlalchemy_statements_per_alert": {k: round(v / alerts, 2) for k, v in statements.most_common()}}


def run(threads: int = 16, rounds: int = 60, database: str = "sqlite") -> dict:
    result: dict = {"bench": "writer", "database": database, "threads": threads, "rounds": rounds}
    if database != "postgresql":
        return measure_both(result, {})
    import psycopg

    from bench.dashboard import PG_ADMIN_URL, scratch_database

    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as admin, \
            scratch_database(admin, f"klaxon_bench_writer_{os.getpid()}") as url:
        return measure_both(result, {"KLAXON_DATABASE_URL": url})


def measure_both(result: dict, env: dict) -> dict:
    """``result`` with the figures of a configuration without and one with a status endpoint."""
    with tempfile.TemporaryDirectory(prefix="klaxon-bench-") as tmp:
        data_dir = Path(tmp) / "klaxon"
        with serve(data_dir, workers=0, env=env) as server:
            api = api_setup(server)
            plain = create_configuration(api, server.url, "Writer bench")
            updated = create_configuration(api, server.url, "Writer bench, status updates", updates=STATUS_ENDPOINT)
            from runtime.embedded_redis import socket_path

            os.environ.update({"KLAXON_DATA_DIR": str(data_dir), "KLAXON_LOG_LEVEL": "WARNING",
                               "KLAXON_REDIS_URL": f"unix://{socket_path(data_dir)}", **env})
            from app import create_app

            app = create_app()
            for label, cfg in (("plain", plain), ("status_updates", updated)):
                progress(f"writer: {label}, {result['rounds']} waves of {result['threads']}")
                result[label] = measure(app, trigger_url("", cfg), result["threads"], result["rounds"])
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.threads, args.rounds, args.database)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
