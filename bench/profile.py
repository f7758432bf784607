"""Where the time goes: profiles behind the figures of BENCHMARKS.md.

    python -m bench.profile request [--requests 400]      # cProfile of the integration URL, in-process
    python -m bench.profile page [--requests 400]         # cProfile of GET /alerts over 100,000 alerts
    python -m bench.profile ingest|notify|fanout [--seconds 8] [--out DIR]

``request`` runs N triggers through the Flask test client (one thread, real SQLite and Redis of
a `klaxon serve` with no workers) and prints ms per request and the top cumulative functions;
``page`` does the same for the alerts list, signed in, over 100,000 seeded alerts.
The others run the bench's load while py-spy (``.venv/bin/pip install py-spy``; not a Klaxon
dependency) samples every gunicorn worker and RQ worker with ``--gil``, so only Python that
holds the GIL counts, then print the heaviest Klaxon frames per role. Raw collapsed stacks are
kept in --out for flame graphs. Progress and results go to stderr/stdout as plain text.
"""
from __future__ import annotations

import argparse
import collections
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.harness import api_setup, load, progress
from bench.receiver import Receiver
from bench.scenario import ALERT_BODY, create_configuration, create_users, serve, trigger, trigger_url

OURS = re.compile(r"\((alerting|blueprints|workers|models)/|\((app|config|cli)\.py")


def request_profile(count: int, page: bool = False) -> None:
    """cProfile ``count`` integration-URL requests (or, with ``page``, GET /alerts over 100,000 alerts)."""
    import cProfile
    import pstats

    from bench.dashboard import seed
    from runtime.embedded_redis import socket_path

    with tempfile.TemporaryDirectory(prefix="klaxon-bench-") as tmp:
        data_dir = Path(tmp) / "klaxon"
        with serve(data_dir, workers=0) as server:
            cfg = create_configuration(api_setup(server), server.url, "Profile")
            if page:
                seed(f"sqlite:///{data_dir / 'klaxon.db'}", cfg["uuid"], 100_000)
                server.cli("create-admin", "--username", "bench", "--password", "bench-password-1")
            os.environ.update({"KLAXON_DATA_DIR": str(data_dir), "KLAXON_LOG_LEVEL": "WARNING",
                               "KLAXON_REDIS_URL": f"unix://{socket_path(data_dir)}"})
            from app import create_app

            client = create_app().test_client()
            send = _page_sender(client) if page else _trigger_sender(client, trigger_url("", cfg))
            for _ in range(20):  # warm up
                send()
            started = time.perf_counter()
            for _ in range(count):
                send()
            plain = (time.perf_counter() - started) / count * 1000
            profiler, writer = cProfile.Profile(), cProfile.Profile()
            with _profiled_writer(writer):
                profiler.runcall(lambda: [send() for _ in range(count)])
    print(f"{count} requests, one thread: {plain:.2f} ms per request without the profiler")
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
    if writer.getstats():
        print("== the group-commit writer thread (the batches' transactions), same requests")
        pstats.Stats(writer).sort_stats("cumulative").print_stats(45)
        pstats.Stats(writer).sort_stats("tottime").print_stats(25)


@contextlib.contextmanager
def _profiled_writer(profiler):
    """cProfile each batch the group-commit writer thread runs (its own thread: the request's profile
    only sees the request thread waiting)."""
    from alerting.alerts import group_commit

    original = group_commit.Writer._commit

    def profiled(self, batch):
        return profiler.runcall(original, self, batch)

    group_commit.Writer._commit = profiled  # type: ignore[method-assign]
    try:
        yield
    finally:
        group_commit.Writer._commit = original  # type: ignore[method-assign]


def _trigger_sender(client, url):
    def send():
        reply = client.post(url, data=ALERT_BODY, content_type="application/json")
        assert reply.status_code == 202, reply.data
    return send


def _page_sender(client):
    form = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form).group(1)
    client.post("/login", data={"username": "bench", "password": "bench-password-1", "csrf_token": token})

    def send():
        reply = client.get("/alerts")
        assert reply.status_code == 200 and b"alert-row" in reply.data, reply.status_code
    return send


def processes(server) -> dict[str, int]:
    """pid of every gunicorn worker (web0, web1…) and RQ worker (rq0, rq1…) of a running serve."""
    def children(pid):
        out = subprocess.run(["ps", "--ppid", str(pid), "-o", "pid=,args="], capture_output=True, text=True).stdout
        return [(int(line.split(None, 1)[0]), line.split(None, 1)[1]) for line in out.strip().splitlines()]
    found, rq = {}, 0
    for pid, args in children(server.proc.pid):
        if "gunicorn" in args:
            found.update({f"web{i}": wpid for i, (wpid, _) in enumerate(children(pid))})
        elif " worker" in args:
            found[f"rq{rq}"], rq = pid, rq + 1
    return found


def spy(found: dict, seconds: float, out: Path) -> list[subprocess.Popen]:
    pyspy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return [subprocess.Popen([pyspy, "record", "-p", str(pid), "-d", str(int(seconds)), "-r", "500", "--gil",
                              "-f", "raw", "-o", str(out / f"{name}.txt")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for name, pid in found.items()]


def drive(part: str, server, rx: Receiver, seconds: float, found: dict, out: Path) -> None:
    api = api_setup(server)
    if part == "fanout":
        from bench import fanout

        cfg, warm = fanout.setup(server, rx, 1000)
        fanout.warm_up(server, rx, warm, 4)
        spies = spy(found, seconds, out)
        time.sleep(0.5)
        reply, _ = trigger(server.url, cfg)
        rx.wait_for(fanout.HOOK, 1000, timeout=seconds, events={reply["eventIdentifier"]})
    else:
        recipients, updates = [], None
        if part == "notify":
            [user] = create_users(api, server.url, rx.url + "/device", 1)
            recipients = [{"id": user, "recipientType": "PERSON"}]
            updates = {"delivery": {"enabled": True, "url": rx.url + "/delivery"}}
        url = trigger_url(server.url, create_configuration(api, server.url, "Profile", recipients, updates))
        rate, concurrency = (20.0, 4) if part == "notify" else (0.0, 16)
        load(url, duration=2, concurrency=concurrency, rate=rate, body=ALERT_BODY)
        spies = spy(found, seconds, out)
        time.sleep(0.5)
        result = load(url, duration=seconds - 1, concurrency=concurrency, rate=rate, body=ALERT_BODY)
        progress(f"profile {part}: the load while sampled: "
                 + ", ".join(f"{k} {v}" for k, v in result.items() if not isinstance(v, list | dict)))
    for proc in spies:
        proc.wait(seconds + 30)


def heaviest(paths: list[Path], top: int = 30) -> list[tuple[float, str]]:
    """Share of GIL samples under each Klaxon function (inclusive), across ``paths``."""
    total, inclusive = 0, collections.Counter()
    for path in paths:
        for line in path.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            total += int(count)
            frames = {re.sub(r":\d+\)$", ")", f.replace(str(Path.cwd()) + "/", "")) for f in stack.split(";")}
            for frame in frames:
                if OURS.search(frame):
                    inclusive[frame] += int(count)
    return [(100 * n / total, frame) for frame, n in inclusive.most_common(top)] if total else []


def sampled_profile(part: str, seconds: float, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="klaxon-bench-") as tmp, Receiver() as rx:
        with serve(Path(tmp) / "klaxon", workers=2) as server:
            found = processes(server)
            progress(f"profile {part}: sampling {found} for {seconds:g} s")
            drive(part, server, rx, seconds, found, out)
    for role in ("web", "rq"):
        paths = sorted(out.glob(f"{role}*.txt"))
        print(f"== {part}: {role} processes, % of GIL-holding samples (inclusive), raw stacks in {out}")
        for share, frame in heaviest(paths):
            print(f"{share:5.1f}%  {frame}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("part", choices=("request", "page", "ingest", "notify", "fanout"))
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    if args.part in ("request", "page"):
        request_profile(args.requests, page=args.part == "page")
    else:
        out = args.out or Path(tempfile.gettempdir()) / f"klaxon-profile-{args.part}"
        sampled_profile(args.part, args.seconds, out)


if __name__ == "__main__":
    main()
