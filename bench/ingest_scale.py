"""Ingest scale: closed-loop alerts/s with KLAXON_WEB_WORKERS 1, 2 and 4 on PostgreSQL (issue 17).

    python -m bench.ingest_scale [--web-workers 1,2,4] [--duration 6] [--concurrency 16]

One `klaxon serve` per web-worker count, each on a scratch PostgreSQL database
(``klaxon_bench_<pid>_<n>``, dropped after; the server is KLAXON_BENCH_PG, default
postgresql://postgres@127.0.0.1:5432/postgres). The bare Flask yardstick is measured once, in the
same run. Prints one JSON line; the target is that alerts/s does not fall as web workers are added.
"""
from __future__ import annotations

import itertools
import json
import sys
import tempfile
import time
from pathlib import Path

from bench import ingest
from bench.dashboard import PG_ADMIN_URL, scratch_database
from bench.harness import progress
from bench.scenario import serve


def one(tmp: Path, admin, web_workers: int, duration: float, concurrency: int) -> dict:
    import os

    name = f"klaxon_bench_{os.getpid()}_{web_workers}"
    with scratch_database(admin, name) as url:
        env = {"KLAXON_DATABASE_URL": url, "KLAXON_WEB_WORKERS": str(web_workers)}
        with serve(tmp / f"klaxon-{web_workers}", workers=2, env=env) as server:
            progress(f"ingest_scale: KLAXON_WEB_WORKERS={web_workers}: closed loop {duration:g} s")
            _, got = ingest.sustained(server, duration, concurrency, counter=lambda: commits(admin, name))
    accepted = got.get("ok") or 0
    return {"web_workers": web_workers, "alerts_per_s": got["rate"], "p50_ms": got["p50_ms"],
            "p99_ms": got["p99_ms"], "errors": got["errors"], "cpu_ms_per_alert": got["cpu"],
            # every transaction of the serve's database during the loop (the web's batches, the
            # workers' claims and sends) per alert accepted in it: smaller batches, more commits
            "commits_per_alert": round(got["counted"] / accepted, 2) if accepted else None}


def commits(admin, name: str) -> int:
    """Transactions committed so far in database ``name`` (pg_stat_database; its counters reach the
    view within about a second, so read after a pause)."""
    time.sleep(1.2)
    return int(admin.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = %s", (name,)).fetchone()[0])


def run(counts=(1, 2, 4), duration=6.0, concurrency=16) -> dict:
    import psycopg

    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.Error as exc:
        return {"bench": "ingest_scale", "skipped": f"PostgreSQL not reachable: {type(exc).__name__}"}
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="klaxon-bench-") as tmp:
            tmp = Path(tmp)
            progress("ingest_scale: bare Flask yardstick")
            bare = ingest.bare_rate(tmp / "bare", duration, concurrency)
            for count in counts:
                rows.append(one(tmp, admin, count, duration, concurrency))
    finally:
        admin.close()
    for row in rows:
        row["ratio_to_bare"] = round(row["alerts_per_s"] / bare["rate"], 3) if bare["rate"] else None
    rates = [row["alerts_per_s"] for row in rows]
    return {"bench": "ingest_scale", "database": "postgresql", "duration_s": duration, "concurrency": concurrency,
            "client": bare.get("client"), "bare_per_s": bare["rate"], "by_web_workers": rows,
            "targets": {"alerts_per_s_does_not_fall": all(b >= a * 0.95 for a, b in itertools.pairwise(rates))}}


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--web-workers", default="1,2,4")
    parser.add_argument("--duration", type=float, default=6.0)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)
    counts = tuple(int(n) for n in args.web_workers.split(","))
    print(json.dumps(run(counts, args.duration, args.concurrency)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
