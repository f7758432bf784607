"""Time to notify: from the 202 of the integration URL to a webhook device receiving the alert,
and to the delivery update webhook arriving, at a fixed rate of alerts (open loop).

    python -m bench.notify [--rate 20] [--duration 15] [--workers 2]

Prints one JSON line. Both clocks are the same machine's wall clock: the load generator notes
when each 202 arrived, the receiver (its own process) when each POST arrived.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from bench.command_line import command_line
from bench.harness import api_setup, load, progress
from bench.loadgen import percentile
from bench.receiver import Receiver
from bench.scenario import ALERT_BODY, create_configuration, create_users, serve, trigger, trigger_url

DEVICE, DELIVERY = "/device", "/delivery"
TARGETS = {"p50_ms": 50, "p99_ms": 250}


def latencies(accepted: dict[int, float], arrivals: list[tuple], path: str) -> dict:
    """p50/p99/max in ms from each alert's 202 to the first POST to ``path`` that names it."""
    first: dict[int, float] = {}
    for at, where, event_id in arrivals:
        if where == path and event_id in accepted and event_id not in first:
            first[event_id] = at
    ms = [(first[e] - accepted[e]) * 1000 for e in first]
    return {"received": len(first), "missing": len(accepted) - len(first),
            "p50_ms": _round(percentile(ms, 50)), "p99_ms": _round(percentile(ms, 99)),
            "max_ms": _round(max(ms or [0]))}


def _round(value):
    return None if value is None else round(value, 1)


def meets(figures: dict) -> dict:
    ok = figures["missing"] == 0 and figures["received"] > 0
    return {f"{key}<={limit}": ok and figures[key] <= limit for key, limit in TARGETS.items()}


def measure(server, rx: Receiver, cfg: dict, rate: float, duration: float) -> dict:
    """Send at ``rate`` for ``duration`` s, wait (bounded) for every device and delivery POST."""
    sent = load(trigger_url(server.url, cfg), duration=duration, concurrency=4, rate=rate, body=ALERT_BODY,
                record=True, max_requests=int(rate * duration) + 1)
    accepted = {}
    for _sent_at, replied_at, status, text in sent["records"]:
        if status == 202:
            accepted[json.loads(text)["eventIdentifier"]] = replied_at
    progress(f"notify: {len(accepted)} alerts accepted; waiting for deliveries")
    rx.wait_for(DEVICE, len(accepted), timeout=30, events=accepted)
    rx.wait_for(DELIVERY, len(accepted), timeout=30, events=accepted)
    arrivals = rx.records()
    return {"sent": sent["sent"], "accepted": len(accepted), "ingest_p99_ms": sent["p99_ms"],
            "device": latencies(accepted, arrivals, DEVICE), "delivery_update": latencies(accepted, arrivals, DELIVERY)}


def run(rate=20.0, duration=15.0, workers=2, env=None) -> dict:
    with tempfile.TemporaryDirectory(prefix="klaxon-bench-") as tmp, Receiver() as rx:
        with serve(Path(tmp) / "klaxon", workers=workers, env=env) as server:
            api = api_setup(server)
            [user] = create_users(api, server.url, rx.url + DEVICE, 1)
            cfg = create_configuration(api, server.url, "Notify bench", [{"id": user, "recipientType": "PERSON"}],
                                       updates={"delivery": {"enabled": True, "url": rx.url + DELIVERY}})
            warm = {trigger(server.url, cfg)[0]["eventIdentifier"] for _ in range(3)}  # imports, pools, first jobs
            rx.wait_for(DELIVERY, len(warm), timeout=20, events=warm)
            progress(f"notify: sending {rate:g} alerts/s for {duration:g} s")
            figures = measure(server, rx, cfg, rate, duration)
    device, update = figures["device"], figures["delivery_update"]
    return {"bench": "notify", "workers": workers, "rate_per_s": rate, "duration_s": duration, **figures,
            "targets": {**{f"device_{k}": v for k, v in meets(device).items()},
                        **{f"delivery_update_{k}": v for k, v in meets(update).items()}}}


def main(argv=None):
    command_line(run, __doc__, argv, rate=20.0, duration=15.0, workers=2)


if __name__ == "__main__":
    main()
