"""Scale: the fan-out and ingest figures with KLAXON_WORKERS 1, 2 and 4 on the same machine.

    python -m bench.scale [--workers 1,2,4] [--users 1000] [--duration 6]

One `klaxon serve` per worker count: first one alert to a group of ``users`` (so no ingest
backlog is in the queue), then closed-loop ingest. The bare Flask yardstick is measured once.
Prints one JSON line.
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from bench import fanout, ingest
from bench.harness import progress
from bench.receiver import Receiver
from bench.scenario import serve


def one(tmp: Path, workers: int, users: int, duration: float, concurrency: int) -> dict:
    with Receiver() as rx, serve(tmp / f"klaxon-{workers}", workers=workers) as server:
        progress(f"scale: KLAXON_WORKERS={workers}: fan-out to {users}")
        fan = fanout.measure(server, rx, users, timeout=60, workers=workers)
        progress(f"scale: KLAXON_WORKERS={workers}: ingest")
        _, got = ingest.sustained(server, duration, concurrency)
    return {"workers": workers, "alerts_per_s": got["rate"], "ingest_p50_ms": got["p50_ms"],
            "ingest_p99_ms": got["p99_ms"], "ingest_errors": got["errors"],
            "fanout_seconds_to_all": fan["seconds_to_all"], "fanout_deliveries_per_s": fan["deliveries_per_s"],
            "fanout_missing": fan["missing"]}


def run(worker_counts=(1, 2, 4), users=1000, duration=6.0, concurrency=16) -> dict:
    rows = []
    with tempfile.TemporaryDirectory(prefix="klaxon-bench-") as tmp:
        tmp = Path(tmp)
        progress("scale: bare Flask yardstick")
        bare = ingest.bare_rate(tmp / "bare", duration, concurrency)
        for workers in worker_counts:
            rows.append(one(tmp, workers, users, duration, concurrency))
    for row in rows:
        row["ingest_ratio_to_bare"] = round(row["alerts_per_s"] / bare["rate"], 3) \
            if row["alerts_per_s"] and bare["rate"] else None
    return {"bench": "scale", "users": users, "duration_s": duration, "concurrency": concurrency,
            "client": bare.get("client"), "bare_per_s": bare["rate"], "by_workers": rows}


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=6.0)
    args = parser.parse_args(argv)
    counts = tuple(int(n) for n in args.workers.split(","))
    print(json.dumps(run(counts, args.users, args.duration)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
