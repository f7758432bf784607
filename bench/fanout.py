"""Fan-out: one alert to a group of N users with webhook devices (default 1,000).

    python -m bench.fanout [--users 1000] [--workers 2]

After a warm-up (a few one-person alerts, so every RQ worker has imported its job modules and
opened its connections), three alerts go to the group one after another. Prints one JSON line:
for the median alert, seconds from the 202 until every device has its POST and deliveries/s;
and the ratio to a plain ``requests.Session`` loop posting the same bodies to the same receiver.
The loop runs once after each alert, while the serve idles (``baseline_per_s``: their median), so
both sides of the ratio meet the same load on a shared machine; ``baseline_after_per_s`` is the
older yardstick, three loops after the serve has stopped, and ``ratio_after`` its ratio.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import requests

from bench.command_line import command_line
from bench.harness import api_setup, progress
from bench.receiver import Receiver
from bench.scenario import create_configuration, create_group, create_users, serve, trigger

HOOK, BASELINE, WARM = "/fanout", "/baseline", "/warm"
TARGET_RATIO = 0.8  # issue 17
TRIALS = 3


def baseline(rx: Receiver, bodies: list[str], trials: int = TRIALS) -> float:
    """Seconds (median of ``trials``) a single requests.Session takes to POST ``bodies`` one after another."""
    headers = {"Content-Type": "application/json"}
    times = []
    with requests.Session() as http:
        http.post(rx.url + BASELINE, data=bodies[0].encode(), headers=headers, timeout=10)  # connect once first
        for _ in range(trials):
            started = time.perf_counter()
            for body in bodies:
                http.post(rx.url + BASELINE, data=body.encode(), headers=headers, timeout=10).raise_for_status()
            times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]


def setup(server, rx: Receiver, users: int) -> tuple[dict, dict]:
    """``users`` responders with a webhook device each in one all-at-once group, and its configuration;
    plus a one-person configuration to warm the workers up with."""
    api = api_setup(server)
    started = time.perf_counter()
    names = create_users(api, server.url, rx.url + HOOK, users, prefix="fan")
    create_group(api, server.url, "Everyone", names)
    progress(f"fanout: {users} users and their group made in {time.perf_counter() - started:.1f} s")
    [warm] = create_users(api, server.url, rx.url + WARM, 1, prefix="warm")
    return (create_configuration(api, server.url, "Fan-out bench", [{"id": "Everyone", "recipientType": "GROUP"}]),
            create_configuration(api, server.url, "Warm-up", [{"id": warm, "recipientType": "PERSON"}]))


def warm_up(server, rx: Receiver, cfg: dict, alerts: int) -> None:
    """One alert at a time, so each RQ worker (they take turns) has imported and connected before the fan-out."""
    for _ in range(alerts):
        reply, _ = trigger(server.url, cfg)
        rx.wait_for(WARM, 1, timeout=20, events={reply["eventIdentifier"]})


def one_alert(server, rx: Receiver, cfg: dict, users: int, timeout: float) -> dict:
    """Trigger one alert to the group and time every delivery (bounded by ``timeout``)."""
    reply, accepted_at = trigger(server.url, cfg)
    got = rx.wait_for(HOOK, users, timeout=timeout, events={reply["eventIdentifier"]})
    arrivals = sorted(at for at, _, _ in got)
    seconds = (arrivals[-1] - accepted_at) if arrivals else None
    figures = {"delivered": len(arrivals), "missing": users - len(arrivals),
               "seconds_to_all": round(seconds, 3) if seconds and len(arrivals) == users else None,
               "seconds_to_first": round(arrivals[0] - accepted_at, 3) if arrivals else None,
               "deliveries_per_s": round(len(arrivals) / seconds, 1) if seconds else None}
    if len(arrivals) < users:
        figures["timed_out_after_s"] = timeout
    return figures


def measure(server, rx: Receiver, users: int, timeout: float, workers: int = 2, trials: int = TRIALS,
            make=None, between=None) -> dict:
    """The median of ``trials`` alerts to the group, one after another, after a warm-up (``make``: another
    setup; ``between``: called after each alert, e.g. to time the yardstick under the same load)."""
    cfg, warm = (make or setup)(server, rx, users)
    warm_up(server, rx, warm, max(4, 2 * workers))
    runs = []
    for _ in range(trials):
        runs.append(one_alert(server, rx, cfg, users, timeout))
        if runs[-1]["missing"]:
            break  # deliveries are not arriving: waiting again would only repeat the timeout
        if between:
            between()
    ranked = sorted(runs, key=lambda r: (r["missing"], r["seconds_to_all"] or float("inf")))
    return {"users": users, **ranked[len(ranked) // 2], "trials_seconds_to_all": [r["seconds_to_all"] for r in runs]}


def run(users=1000, workers=2, env=None, timeout=90.0, make=None, name="fanout") -> dict:
    loops: list[float] = []  # requests/s of the loop run after each alert

    def between():
        bodies = rx.bodies(HOOK)[:users]  # the first alert's
        loops.append(len(bodies) / baseline(rx, bodies, trials=1))

    with tempfile.TemporaryDirectory(prefix="klaxon-bench-") as tmp, Receiver(keep_bodies=[HOOK]) as rx:
        with serve(Path(tmp) / "klaxon", workers=workers, env=env) as server:
            figures = measure(server, rx, users, timeout, workers, make=make, between=between)
        bodies = rx.bodies(HOOK)[:users]  # one alert's worth
        plain = baseline(rx, bodies) if bodies else None
    plain_rate = sorted(loops)[len(loops) // 2] if loops else None
    after_rate = len(bodies) / plain if plain else None
    rate = figures["deliveries_per_s"]
    ratio = round(rate / plain_rate, 3) if plain_rate and rate else None
    return {"bench": name, "workers": workers, **figures,
            "baseline_per_s": round(plain_rate, 1) if plain_rate else None,
            "trials_baseline_per_s": [round(r, 1) for r in loops], "ratio_to_requests_loop": ratio,
            "baseline_after_per_s": round(after_rate, 1) if after_rate else None,
            "ratio_after": round(rate / after_rate, 3) if after_rate and rate else None,
            "targets": {f"ratio>={TARGET_RATIO}": bool(ratio and not figures["missing"] and ratio >= TARGET_RATIO)}}


def main(argv=None):
    command_line(run, __doc__, argv, users=1000, workers=2, timeout=90.0)


if __name__ == "__main__":
    main()
