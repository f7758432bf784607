"""Closed-loop load with wrk (Debian's `wrk` package) when it is installed, else bench.loadgen.

The Python load generator needs about a core of its own at 2,000 requests/s, so on a small
machine it caps the bare Flask yardstick; wrk (C, epoll) does not. Both stop at a duration and
a request count, and return the same keys: sent, ok, errors, rate, p50_ms, p90_ms, p99_ms.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from bench.harness import load

THREADS = 2
# Each wrk thread stops itself after its share of the requests (count bound on top of -d).
SCRIPT = """wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
local done = 0
function response(status, headers, body)
  done = done + 1
  if done >= {per_thread} then wrk.thread:stop() end
end
"""
UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def available() -> bool:
    return shutil.which("wrk") is not None


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return round(float(value) * UNITS[unit], 2)


def parse(out: str) -> dict:
    """The figures of wrk's --latency report."""
    sent = int(re.search(r"(\d+) requests in ([\d.]+)(\w+)", out).group(1))
    seconds = re.search(r"requests in ([\d.]+\w+)", out).group(1)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    errors = (int(bad.group(1)) if bad else 0) + (sum(int(n) for n in sock.groups()) if sock else 0)
    pcts = {p: _ms(v) for p, v in re.findall(r"^\s+(50|75|90|99)%\s+([\d.]+[a-z]+)\s*$", out, re.M)}
    elapsed_s = _ms(seconds) / 1000
    missing = {"50", "90", "99"} - set(pcts)
    if missing:  # keep what wrk said, to see why
        return {"sent": sent, "errors": errors, "client": "wrk", "rate": None, "unparsed": out[-600:]}
    return {"sent": sent, "ok": sent - (int(bad.group(1)) if bad else 0), "errors": errors,
            "seconds": elapsed_s, "rate": round((sent - (int(bad.group(1)) if bad else 0)) / elapsed_s, 1),
            "p50_ms": pcts.get("50"), "p90_ms": pcts.get("90"), "p99_ms": pcts.get("99"), "client": "wrk"}


def closed_loop(url: str, duration: float, concurrency: int, body: str, max_requests: int = 200_000) -> dict:
    """As many POSTs as ``concurrency`` connections can get answered, for ``duration`` seconds."""
    if not available():
        return dict(load(url, duration=duration, concurrency=concurrency, body=body, max_requests=max_requests),
                    client="bench.loadgen")
    with tempfile.TemporaryDirectory(prefix="klaxon-wrk-") as tmp:
        script = Path(tmp) / "post.lua"
        per_thread = max(1, max_requests // THREADS)
        script.write_text(SCRIPT.format(body=json.dumps(body, ensure_ascii=False), per_thread=per_thread))
        out = subprocess.run(["wrk", f"-t{THREADS}", f"-c{concurrency}", f"-d{duration:g}s", "--latency",
                              "--timeout", "30s", "-s", str(script), url],
                             capture_output=True, text=True, timeout=duration + 60)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed: {out.stderr[-500:]}")
    return parse(out.stdout)
