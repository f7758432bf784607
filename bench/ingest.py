"""Ingest: accepted alerts/s on `klaxon serve` against a bare Flask 202 endpoint on the same settings.

Prints one JSON line: rate, p50/p99 at full load (closed loop, wrk when installed), the ratio to
the bare endpoint measured the same way in the same run, and p50/p99 at half the sustained rate
(open loop, bench.loadgen). With KLAXON_DATABASE_URL=postgresql://... in the environment the
serve uses that database (the line says which).
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from bench.command_line import command_line
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
        "database": "postgresql" if (env or {}).get("KLAXON_DATABASE_URL", os.environ.get(
            "KLAXON_DATABASE_URL", "")).startswith("postgresql") else "sqlite",
        "targets": {"ratio_to_bare>=0.4": bool(ratio and ratio >= 0.4),  # issue 17
                    "p99_ms<=250": klaxon["p99_ms"] <= 250,
                    "half_rate_p99_ms<=25": half["p99_ms"] <= 25},
    }


def main(argv=None):
    command_line(run, __doc__, argv, duration=8.0, concurrency=16, workers=2)


if __name__ == "__main__":
    main()
