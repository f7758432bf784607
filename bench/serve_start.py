"""Serve start: seconds from LiveKlaxon.start() to /readyz, and the CPU each process of a `klaxon serve` spends.

python -m bench.serve_start [rounds] [KEY=VALUE ...]   (e.g. KLAXON_WEB_WORKERS=1 KLAXON_WORKERS=1)

Every round starts a serve on one data dir: round 1 on a fresh one (the serve migrates a new
database), the next ones restart it (the database is at head), as most starts are. Prints one
JSON line: per round the seconds to ready, to every RQ worker listening, and to stop (stop_live,
as tests do), and per process kind (supervisor, gunicorn master, web worker, RQ worker, redis)
the CPU seconds spent by then; the medians over the restarts.
"""
from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psutil

from bench.harness import LiveKlaxon, progress, wait_until


def kind(proc: psutil.Process, root: int) -> str:
    try:
        cmd = " ".join(proc.cmdline())
        parent = proc.ppid()
    except psutil.NoSuchProcess:
        return "gone"
    if "redis-server" in cmd:
        return "redis"
    if "gunicorn" in cmd:
        return "gunicorn master" if parent == root else "web worker"
    if "cli worker" in cmd:
        return "rq worker" if parent == root else "rq scheduler"
    return cmd[:60]


def cpu_by_kind(server) -> dict:
    root = psutil.Process(server.proc.pid)
    found: dict[str, list[float]] = {"supervisor": [round(sum(root.cpu_times()[:2]), 2)]}
    for proc in root.children(recursive=True):
        try:
            found.setdefault(kind(proc, root.pid), []).append(round(sum(proc.cpu_times()[:2]), 2))
        except psutil.NoSuchProcess:
            pass
    return found


def workers_listening(server, count: int, since: int) -> bool:
    return server.log_text()[since:].count("Listening on") >= count


def one_round(data_dir: Path, env: dict, workers: int) -> dict:
    from tests.support import stop_live

    server = LiveKlaxon(data_dir, env=env, workers=workers)
    server.env.pop("KLAXON_DATABASE_URL", None) if "KLAXON_DATABASE_URL" not in env else None
    server.env.pop("KLAXON_REDIS_URL", None) if "KLAXON_REDIS_URL" not in env else None
    since = len(server.log_text())
    started = time.perf_counter()
    server.start()
    ready = time.perf_counter() - started
    wait_until(lambda: workers_listening(server, workers, since), 60, message="every RQ worker listening")
    listening = time.perf_counter() - started
    time.sleep(1.0)  # let the web workers finish importing (they may be up after the first answers)
    cpu = cpu_by_kind(server)
    stop_started = time.perf_counter()
    stop_live(server)
    return {"ready_s": round(ready, 2), "workers_listening_s": round(listening, 2),
            "stop_s": round(time.perf_counter() - stop_started, 2), "cpu_s": cpu,
            "cpu_total_s": round(sum(sum(v) for v in cpu.values()), 2)}


def run(rounds: int = 4, env: dict | None = None) -> dict:
    env = dict(env or {})
    workers = int(env.get("KLAXON_WORKERS", 2))
    results = []
    with tempfile.TemporaryDirectory(prefix="klaxon-bench-") as tmp:
        for n in range(rounds):
            progress(f"serve start: round {n + 1} of {rounds}")
            results.append(one_round(Path(tmp) / "data", env, workers))
    restarts = results[1:] or results
    return {"bench": "serve_start", "env": env, "load_average": round(psutil.getloadavg()[0], 1),
            "rounds": results, "restart_median_ready_s": statistics.median(r["ready_s"] for r in restarts),
            "restart_median_workers_listening_s": statistics.median(r["workers_listening_s"] for r in restarts),
            "restart_median_stop_s": statistics.median(r["stop_s"] for r in restarts),
            "restart_median_cpu_total_s": statistics.median(r["cpu_total_s"] for r in restarts)}


if __name__ == "__main__":
    args = sys.argv[1:]
    count = int(args.pop(0)) if args and args[0].isdigit() else 4
    print(json.dumps(run(count, dict(a.split("=", 1) for a in args))))
