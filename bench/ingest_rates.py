"""CPU per alert at fixed alert rates (issue 17: why the half-rate p99 has a tail).

    python -m bench.ingest_rates [--rates 50,150,300,450] [--duration 6] [--concurrency 16]

One `klaxon serve` (SQLite, or KLAXON_DATABASE_URL), warmed up, then idle for ``duration`` seconds
and an open loop (bench.loadgen) at each rate in turn. For each: alerts/s, p50/p99, and the CPU
(user + system, /proc) the web workers and the RQ workers used, as cores and as ms per alert.
Prints one JSON line. The half-rate point of ``bench ingest`` is one of these rates; what it shows
is how busy the machine is there (a p99 is a queue's tail), not a speed.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.command_line import command_line
from bench.harness import api_setup, load, progress
from bench.ingest import BODY, tree_cpu
from bench.scenario import create_configuration, serve, trigger_url


def run(rates: str = "50,150,300,450", duration: float = 6.0, concurrency: int = 16) -> dict:
    wanted = [float(rate) for rate in rates.split(",") if rate.strip()]
    result: dict = {"bench": "ingest_rates", "duration_s": duration, "concurrency": concurrency, "by_rate": []}
    with tempfile.TemporaryDirectory(prefix="klaxon-bench-") as tmp:
        with serve(Path(tmp) / "klaxon", workers=2) as server:
            url = trigger_url(server.url, create_configuration(api_setup(server), server.url, "Rates bench"))
            load(url, duration=2, concurrency=concurrency, body=BODY)  # warm up
            time.sleep(1)
            for rate in [0.0] + wanted:
                progress(f"ingest_rates: {rate:g} alerts/s for {duration:g} s")
                before, started = tree_cpu(server.proc.pid), time.perf_counter()
                if rate:
                    figures = load(url, duration=duration, concurrency=concurrency, rate=rate, body=BODY)
                else:
                    time.sleep(duration)
                    figures = {"rate": 0.0}
                after, seconds = tree_cpu(server.proc.pid), time.perf_counter() - started
                row = {"rate_per_s": figures.get("rate"), "p50_ms": figures.get("p50_ms"),
                       "p99_ms": figures.get("p99_ms"), "errors": figures.get("errors", 0)}
                for role in ("web", "rq"):
                    used = after[role] - before[role]
                    row[f"{role}_cores"] = round(used / seconds, 3)
                    if figures.get("rate"):
                        row[f"{role}_cpu_ms_per_alert"] = round(used * 1000 / (figures["rate"] * seconds), 2)
                if rate:
                    result["by_rate"].append(row)
                else:
                    result["idle"] = row
    return result


def main(argv=None):
    command_line(run, __doc__, argv, rates="50,150,300,450", duration=6.0, concurrency=16)


if __name__ == "__main__":
    main()
