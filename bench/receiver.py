"""A fast webhook receiver in its own process: answers 200 at once and records every arrival.

Each POST is kept as (arrival wall time, path, eventIdentifier from the JSON body); bodies are
kept too for paths named in ``keep_bodies`` (the fan-out baseline replays them). The bench reads
what arrived with GET /__records?since=N and GET /__bodies?path=/p from the same server.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real endpoint behind a proxy would offer
    disable_nagle_algorithm = True  # else a reply in two writes waits out the client's delayed ACK (40 ms)

    def do_POST(self):
        arrived = time.time()
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path = self.path.split("?", 1)[0]
        try:
            event_id = json.loads(raw).get("eventIdentifier")
        except (ValueError, AttributeError):
            event_id = None
        server = self.server
        with server.lock:
            server.records.append((arrived, path, event_id))
            if path in server.keep_bodies:
                server.bodies.setdefault(path, []).append(raw.decode("utf-8", errors="replace"))
        self._reply(200, b"{}")

    def do_GET(self):
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        server = self.server
        with server.lock:
            if parts.path == "/__records":
                data = server.records[int(query.get("since", ["0"])[0]):]
            elif parts.path == "/__bodies":
                data = list(server.bodies.get(query.get("path", [""])[0], []))
            else:
                data = {"ok": True}
        self._reply(200, json.dumps(data).encode())

    def _reply(self, status, body):
        head = (f"HTTP/1.1 {status} OK\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode()
        self.wfile.write(head + body)  # one write: one segment

    def log_message(self, *args):  # a log line per request would cost more than the request
        pass


def _serve(keep_bodies):
    import threading

    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.request_queue_size = 256
    server.lock, server.records, server.bodies = threading.Lock(), [], {}
    server.keep_bodies = set(keep_bodies)
    print(server.server_address[1], flush=True)
    server.serve_forever(poll_interval=0.2)


class Receiver:
    """The receiver process (``python -m bench.receiver``); ``url`` is its base URL on 127.0.0.1."""

    def __init__(self, keep_bodies=()):
        self.keep_bodies = tuple(keep_bodies)
        self.proc = None
        self.port = None
        self.seen = []
        self.http = requests.Session()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self.proc = subprocess.Popen([sys.executable, "-m", "bench.receiver", *self.keep_bodies], cwd=ROOT,
                                     stdout=subprocess.PIPE, text=True, start_new_session=True)
        line = self.proc.stdout.readline()
        if not line.strip().isdigit():
            self.proc.kill()
            raise RuntimeError("the webhook receiver did not start")
        self.port = int(line)
        return self

    def __exit__(self, *exc):
        self.http.close()
        self.proc.terminate()
        self.proc.wait(10)
        self.proc.stdout.close()

    def records(self) -> list[tuple[float, str, int | None]]:
        """(arrival time, path, eventIdentifier) of every POST so far, in arrival order."""
        fresh = self.http.get(f"{self.url}/__records", params={"since": len(self.seen)}, timeout=30).json()
        self.seen += [tuple(r) for r in fresh]
        return self.seen

    def bodies(self, path) -> list[str]:
        return self.http.get(f"{self.url}/__bodies", params={"path": path}, timeout=30).json()

    def wait_for(self, path, count, timeout, events=None, interval=0.05) -> list[tuple]:
        """Poll until ``count`` POSTs to ``path`` (naming one of ``events``, if given) arrived or
        ``timeout`` seconds passed; return those seen."""
        deadline = time.monotonic() + timeout
        while True:
            got = [r for r in self.records() if r[1] == path and (events is None or r[2] in events)]
            if len(got) >= count or time.monotonic() >= deadline:
                return got
            time.sleep(interval)


if __name__ == "__main__":
    _serve(sys.argv[1:])
