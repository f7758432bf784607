"""What the benchmarks set up through the REST API: users with webhook devices, groups, configurations."""
from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bench.harness import LiveKlaxon

# Production defaults where the test harness shortens them: the sweeper every 10 s, not 0.5 s.
BENCH_ENV = {"KLAXON_SWEEP_INTERVAL": "10", "KLAXON_WEBHOOK_ALLOW_CIDRS": "127.0.0.0/8"}
ALERT_BODY = json.dumps({"properties": {"Summary": "Disk full on db-1", "Host": "db-1"}, "priority": "HIGH",
                         "message": "Free space fell below 5%"})


def serve(data_dir: Path, workers: int = 2, env: dict | None = None) -> LiveKlaxon:
    """A `klaxon serve` with the bench's settings (not yet started: use it in a ``with``)."""
    return LiveKlaxon(data_dir, env={**BENCH_ENV, **(env or {})}, workers=workers)


def _check(response: requests.Response, what: str) -> dict:
    if response.status_code >= 300:
        raise RuntimeError(f"{what}: HTTP {response.status_code} {response.text[:300]}")
    return response.json()


def create_users(api: requests.Session, base: str, hook_url: str, count: int, prefix: str = "pager",
                 threads: int = 8) -> list[str]:
    """``count`` responders, each with one webhook device posting to ``hook_url``; returns usernames."""
    local = threading.local()
    names = [f"{prefix}{i:04d}" for i in range(count)]

    def make(name):
        if not hasattr(local, "http"):
            local.http = requests.Session()
            local.http.headers.update(api.headers)
        body = {"username": name, "name": f"Bench {name}", "role": "responder",
                "devices": [{"name": "Hook", "kind": "webhook", "target": hook_url}]}
        _check(local.http.post(f"{base}/api/v1/users", json=body, timeout=30), f"create user {name}")

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(make, names))
    return names


def create_group(api: requests.Session, base: str, name: str, members: list[str]) -> dict:
    return _check(api.post(f"{base}/api/v1/groups", json={"name": name, "members": members, "mode": "all-at-once"},
                           timeout=60), f"create group {name}")


def create_configuration(api: requests.Session, base: str, name: str, recipients=(), updates=None) -> dict:
    """A webhook configuration with no rate limit (the bench sends faster than the default 600/min)."""
    body = {"template": "webhook", "name": name, "recipients": list(recipients), "rateLimitPerMinute": 0}
    if updates:
        body["updates"] = updates
    return _check(api.post(f"{base}/api/v1/configurations", json=body, timeout=30), f"create configuration {name}")


def trigger_url(base: str, cfg: dict) -> str:
    return f"{base}/api/integration/1/functions/{cfg['uuid']}/triggers?apiKey={cfg['apiKey']}"


def trigger(base: str, cfg: dict, body: str = ALERT_BODY) -> tuple[dict, float]:
    """POST one alert; return the 202's JSON and the wall time the 202 arrived."""
    import time

    response = requests.post(trigger_url(base, cfg), data=body, headers={"Content-Type": "application/json"},
                             timeout=30)
    at = time.time()
    if response.status_code != 202:
        raise RuntimeError(f"trigger: HTTP {response.status_code} {response.text[:300]}")
    return response.json(), at
