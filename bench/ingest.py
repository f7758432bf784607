"""Ingest: accepted alerts/s on `klaxon serve` against a bare Flask 202 endpoint on the same settings.

Prints one JSON line: rate, p50/p99 at full load (closed loop, wrk when installed), the ratio to
the bare endpoint measured the same way in the same run, and p50/p99 at half the sustained rate
(open loop, bench.loadgen).
"""
from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from bench.harness import BareFlask, api_setup, load, progress
from bench.scenario import ALERT_BODY as BODY
from bench.scenario import create_configuration, serve, trigger_url
from bench.wrk import closed_loop


def sustained(server, duration: float, concurrency: int) -> tuple[str, dict]:
    """Closed-loop alerts/s on a running Klaxon (after a 2 s warm-up); returns the URL and the figures."""
    cfg = create_configuration(api_setup(server), server.url, "Ingest bench")
    url = trigger_url(server.url, cfg)
    load(url, duration=2, concurrency=concurrency, body=BODY)  # warm up
    return url, closed_loop(url, duration, concurrency, BODY)


def bare_rate(data_dir: Path, duration: float, concurrency: int) -> dict:
    """The yardstick: the bare Flask 202 endpoint under the same gunicorn settings."""
    with BareFlask(data_dir) as bare:
        load(bare.url + "/bare", duration=2, concurrency=concurrency, body=BODY)
        return closed_loop(bare.url + "/bare", duration, concurrency, BODY)


def run(duration=8.0, concurrency=16, workers=2, env=None) -> dict:
    with tempfile.TemporaryDirectory(prefix="klaxon-bench-") as tmp:
        tmp = Path(tmp)
        with serve(tmp / "klaxon", workers=workers, env=env) as server:
            progress(f"ingest: closed loop, {concurrency} connections, {duration:g} s")
            url, klaxon = sustained(server, duration, concurrency)
            progress(f"ingest: {klaxon['rate']} alerts/s; now open loop at half that")
            half = load(url, duration=duration, concurrency=concurrency, rate=max(1.0, klaxon["rate"] / 2),
                        body=BODY)
        progress("ingest: bare Flask yardstick")
        baseline = bare_rate(tmp / "bare", duration, concurrency)
    ratio = round(klaxon["rate"] / baseline["rate"], 3) if klaxon["rate"] and baseline["rate"] else None
    return {
        "bench": "ingest", "workers": workers, "concurrency": concurrency, "duration_s": duration,
        "client": klaxon["client"],
        "alerts_per_s": klaxon["rate"], "p50_ms": klaxon["p50_ms"], "p99_ms": klaxon["p99_ms"],
        "errors": klaxon["errors"], "bare_per_s": baseline["rate"], "bare_p50_ms": baseline["p50_ms"],
        "ratio_to_bare": ratio,
        "half_rate_per_s": half["rate"], "half_rate_p50_ms": half["p50_ms"], "half_rate_p99_ms": half["p99_ms"],
        "targets": {"ratio_to_bare>=0.5": bool(ratio and ratio >= 0.5),
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
