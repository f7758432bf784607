"""A load generator run as its own process: closed loop (as fast as it can) or open loop (a fixed rate).

    python -m bench.loadgen URL --duration 10 --concurrency 16 [--rate 500] [--body JSON] [--header K:V]
                                [--method GET] [--max-requests N] [--record]

Prints one JSON line: sent, ok (2xx), errors, rate (ok/s), p50_ms, p90_ms, p95_ms, p99_ms, max_ms,
and for each request the (send time, reply time, status, reply body) when --record is given (for
time-to-notify, which counts from the reply). Stops at --duration seconds or --max-requests,
whichever comes first.
"""
from __future__ import annotations

import argparse
import http.client
import json
import sys
import threading
import time
from urllib.parse import urlsplit


def percentile(values, p):
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def run(url, duration, concurrency, rate, body, headers, record, max_requests, method="POST"):
    parts = urlsplit(url)
    path = parts.path + ("?" + parts.query if parts.query else "")
    latencies, records, lock = [], [], threading.Lock()
    counts = {"sent": 0, "ok": 0, "errors": 0}
    start = time.perf_counter()
    deadline = start + duration
    interval = concurrency / rate if rate else 0.0

    def worker(index):
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
        next_at = start + index * (1.0 / rate if rate else 0)
        while True:
            now = time.perf_counter()
            if now >= deadline:
                break
            if rate:
                if next_at > now:
                    time.sleep(next_at - now)
                next_at += interval
            with lock:
                if counts["sent"] >= max_requests:
                    break
                counts["sent"] += 1
            sent_wall = time.time()
            t0 = time.perf_counter()
            try:
                conn.request(method, path, body=body if method != "GET" else None, headers=headers)
                reply = conn.getresponse()
                data = reply.read()
                status = reply.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
                status, data = 0, b""
            elapsed = (time.perf_counter() - t0) * 1000
            done_wall = time.time()
            with lock:
                if 200 <= status < 300:
                    counts["ok"] += 1
                    latencies.append(elapsed)
                else:
                    counts["errors"] += 1
                if record:
                    records.append((sent_wall, done_wall, status, data.decode(errors="replace")))
        conn.close()

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(duration + 60)
    elapsed = time.perf_counter() - start
    result = {"sent": counts["sent"], "ok": counts["ok"], "errors": counts["errors"],
              "seconds": round(elapsed, 3), "rate": round(counts["ok"] / elapsed, 1),
              "p50_ms": round(percentile(latencies, 50) or 0, 2), "p90_ms": round(percentile(latencies, 90) or 0, 2),
              "p95_ms": round(percentile(latencies, 95) or 0, 2),
              "p99_ms": round(percentile(latencies, 99) or 0, 2), "max_ms": round(max(latencies or [0]), 2)}
    if record:
        result["records"] = records
    return result


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rate", type=float, default=0.0, help="requests per second in all (0: closed loop)")
    parser.add_argument("--max-requests", type=int, default=1_000_000)
    parser.add_argument("--body", default="{}")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--record", action="store_true")
    parser.add_argument("--method", default="POST", choices=("POST", "GET"))
    args = parser.parse_args(argv)
    headers = {"Content-Type": "application/json"}
    headers.update(dict(h.split(":", 1) for h in args.header))
    result = run(args.url, args.duration, args.concurrency, args.rate, args.body.encode(), headers, args.record,
                 args.max_requests, args.method)
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
