"""Ingest: accepted alerts/s on `klaxon serve` against a bare Flask 202 endpoint on the same settings.

Prints one JSON line: rate, p50/p99 at full load, the ratio to the bare endpoint, and p50/p99
at half the sustained rate (open loop).
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from bench.harness import BareFlask, LiveKlaxon, api_setup, load

BODY = json.dumps({"properties": {"Summary": "Disk full on db-1", "Host": "db-1"}, "priority": "HIGH",
                   "message": "Free space fell below 5%"})


def run(duration=8.0, concurrency=16, workers=2, env=None) -> dict:
    with tempfile.TemporaryDirectory(prefix="klaxon-bench-") as tmp:
        tmp = Path(tmp)
        env = dict(env or {})
        with LiveKlaxon(tmp / "klaxon", env=env, workers=workers) as server:
            api = api_setup(server)
            cfg = api.post(server.url + "/api/v1/configurations",
                           json={"name": "Bench", "rateLimitPerMinute": 0}).json()
            url = f"{server.url}/api/integration/1/functions/{cfg['uuid']}/triggers?apiKey={cfg['apiKey']}"
            load(url, duration=2, concurrency=concurrency, body=BODY)  # warm up
            klaxon = load(url, duration=duration, concurrency=concurrency, body=BODY)
            half = load(url, duration=duration, concurrency=concurrency, rate=max(1.0, klaxon["rate"] / 2),
                        body=BODY)
        with BareFlask(tmp / "bare") as bare:
            load(bare.url + "/bare", duration=2, concurrency=concurrency, body=BODY)
            baseline = load(bare.url + "/bare", duration=duration, concurrency=concurrency, body=BODY)
    return {
        "bench": "ingest", "workers": workers, "concurrency": concurrency, "duration_s": duration,
        "alerts_per_s": klaxon["rate"], "p50_ms": klaxon["p50_ms"], "p99_ms": klaxon["p99_ms"],
        "errors": klaxon["errors"], "bare_per_s": baseline["rate"],
        "ratio_to_bare": round(klaxon["rate"] / baseline["rate"], 3) if baseline["rate"] else None,
        "half_rate_per_s": half["rate"], "half_rate_p50_ms": half["p50_ms"], "half_rate_p99_ms": half["p99_ms"],
        "targets": {"ratio_to_bare>=0.5": bool(baseline["rate"]) and klaxon["rate"] / baseline["rate"] >= 0.5,
                    "half_rate_p99_ms<=25": half["p99_ms"] <= 25},
    }


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.duration, args.concurrency, args.workers)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
