"""Ingest: accepted alerts/s on `klaxon serve` against a bare Flask 202 endpoint on the same settings.

Prints one JSON line: rate, p50/p99 at full load (closed loop, wrk when installed), the ratio to
the bare endpoint measured the same way in the same run, and p50/p99 at half the sustained rate
(open loop, bench.loadgen). With KLAXON_DATABASE_URL=postgresql://... in the environment the
serve uses that database (the line says which).

``cpu_ms_per_alert`` is the CPU time (user + system, from /proc) the serve's processes used during
the closed loop divided by the alerts accepted in it, by role: ``web`` (the gunicorn workers: the
request threads and the group-commit writer), ``rq`` (the RQ workers' dispatch of those alerts, as
far as they kept up) and ``other`` (the supervisor, gunicorn's master, an embedded Redis). On a
machine shared with other work it moves far less than alerts/s does; the database server's own
CPU (PostgreSQL) is not in it. ``bare_cpu_ms_per_request`` is the same for the yardstick's workers.
``undispatched_at_end_of_loop`` counts the alerts stored but not yet claimed by a worker when the
closed loop ends, and ``rq_cpu_ms_per_dispatched_alert`` divides the workers' CPU by the alerts
they did dispatch, so a tree whose workers fall behind does not look cheaper.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from bench.command_line import command_line
from bench.harness import BareFlask, api_setup, load, progress
from bench.scenario import ALERT_BODY as BODY
from bench.scenario import create_configuration, serve, trigger_url
from bench.wrk import closed_loop

TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu(root: int) -> dict[str, float]:
    """CPU seconds (user + system) used so far by every process under ``root`` (itself included), by role."""
    table = subprocess.run(["ps", "-e", "-o", "pid=,ppid=,args="], capture_output=True, text=True).stdout
    children: dict[int, list[tuple[int, str]]] = {}
    args_of: dict[int, str] = {}
    for line in table.strip().splitlines():
        pid, ppid, args = (line.split(None, 2) + [""])[:3]
        children.setdefault(int(ppid), []).append((int(pid), args))
        args_of[int(pid)] = args
    found, todo = {}, [(root, args_of.get(root, ""))]
    while todo:
        pid, args = todo.pop()
        found[pid] = args
        todo += children.get(pid, [])
    roles = {"web": 0.0, "rq": 0.0, "other": 0.0}
    for pid, args in found.items():
        try:
            with open(f"/proc/{pid}/stat") as stat:
                fields = stat.read().rpartition(")")[2].split()
        except OSError:
            continue
        role = "web" if "gunicorn" in args and _is_worker(pid, found) else "rq" if " worker" in args else "other"
        roles[role] += (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime
    return roles


def _is_worker(pid: int, found: dict[int, str]) -> bool:
    """A gunicorn worker, not the master (whose parent is not gunicorn)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            ppid = int(stat.read().rpartition(")")[2].split()[1])
    except OSError:
        return False
    return "gunicorn" in found.get(ppid, "")


def cpu_per(root: int, run, count_of) -> tuple[dict, dict | None]:
    """``run()``'s figures and the CPU ms per counted item (``count_of(figures)``) of ``root``'s processes."""
    before = tree_cpu(root)
    figures = run()
    after = tree_cpu(root)
    count = count_of(figures)
    if not count:
        return figures, None
    return figures, {role: round((after[role] - before[role]) * 1000 / count, 2) for role in before} | {
        "total": round(sum(after[r] - before[r] for r in before) * 1000 / count, 2)}


def sustained(server, duration: float, concurrency: int, counter=None) -> tuple[str, dict]:
    """Closed-loop alerts/s on a running Klaxon (after a 2 s warm-up); returns the URL and the figures
    (with the CPU per accepted alert under ``cpu``, and, given ``counter`` (a function returning a
    running count), how much it grew during the loop under ``counted``)."""
    cfg = create_configuration(api_setup(server), server.url, "Ingest bench")
    url = trigger_url(server.url, cfg)
    load(url, duration=2, concurrency=concurrency, body=BODY)  # warm up

    def loop():
        start = counter() if counter else 0
        figures = closed_loop(url, duration, concurrency, BODY)
        figures["undispatched"] = undispatched(server)  # what the workers had not claimed yet
        if counter:
            figures["counted"] = counter() - start
        return figures

    figures, cpu = cpu_per(server.proc.pid, loop, lambda f: f.get("ok"))
    return url, dict(figures, cpu=cpu)


def undispatched(server) -> int:
    """Alerts the serve has stored but its workers have not claimed (dispatched_at still NULL)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(server.database_url())
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM alerts WHERE dispatched_at IS NULL")).scalar() or 0)
    finally:
        engine.dispose()


def bare_rate(data_dir: Path, duration: float, concurrency: int) -> dict:
    """The yardstick: the bare Flask 202 endpoint under the same gunicorn settings."""
    with BareFlask(data_dir) as bare:
        load(bare.url + "/bare", duration=2, concurrency=concurrency, body=BODY)
        figures, cpu = cpu_per(bare.proc.pid, lambda: closed_loop(bare.url + "/bare", duration, concurrency, BODY),
                               lambda f: f.get("ok"))
        return dict(figures, cpu=cpu)


def _per_dispatched(klaxon: dict) -> float | None:
    """rq CPU ms per alert the workers dispatched during the closed loop (accepted minus still undispatched;
    the warm-up's alerts are assumed dispatched before it began)."""
    dispatched = (klaxon.get("ok") or 0) - klaxon["undispatched"]
    cpu = klaxon.get("cpu")
    if not cpu or dispatched <= 0:
        return None
    return round(cpu["rq"] * klaxon["ok"] / dispatched, 2)


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
        "ratio_to_bare": ratio, "cpu_ms_per_alert": klaxon["cpu"],
        # the RQ workers' CPU is spent on what they dispatched, which may be fewer than were accepted
        "undispatched_at_end_of_loop": klaxon["undispatched"],
        "rq_cpu_ms_per_dispatched_alert": _per_dispatched(klaxon),
        "bare_cpu_ms_per_request": (baseline["cpu"] or {}).get("web"),
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
