"""Real parts for tests: an HTTP receiver, an SMTP server and a `klaxon serve` on 127.0.0.1."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate, timeout=10.0, interval=0.05, message="condition"):
    """Poll ``predicate`` until it returns something truthy; fail the test after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


class Receiver:
    """A real HTTP server on 127.0.0.1 that records requests and answers from a script.

    ``script`` is a list of (status, headers, body) used in turn; the last one repeats.
    ``delay`` sleeps before answering (to test timeouts).
    """

    def __init__(self, script=None, delay=0.0):
        self.requests: list[dict] = []
        self.script = list(script or [(200, {}, b'{"ok": true}')])
        self.delay = delay
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                receiver._handle(self)

            do_PUT = do_PATCH = do_GET = do_DELETE = do_POST

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _handle(self, handler):
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        with self.lock:
            index = len(self.requests)
            status, headers, reply = self.script[min(index, len(self.script) - 1)]
            self.requests.append({"method": handler.command, "path": handler.path, "headers": dict(handler.headers),
                                  "body": body, "at": time.time()})
            self.arrived.notify_all()
        if self.delay:
            time.sleep(self.delay)
        reply = reply if isinstance(reply, bytes) else json.dumps(reply).encode()
        handler.send_response(status)
        for key, value in headers.items():
            handler.send_header(key, value)
        handler.send_header("Content-Length", str(len(reply)))
        handler.end_headers()
        handler.wfile.write(reply)

    def json_bodies(self, path=None):
        with self.lock:
            return [json.loads(r["body"]) for r in self.requests if path is None or r["path"].startswith(path)]

    def wait_for(self, count, timeout=10.0, path=None):
        def enough():
            with self.lock:
                hits = [r for r in self.requests if path is None or r["path"].startswith(path)]
                return hits if len(hits) >= count else None
        return wait_until(enough, timeout, message=f"{count} requests at {self.url}{path or ''}")

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


class SmtpServer:
    """aiosmtpd on 127.0.0.1 keeping every message it accepts (parsed with the default policy)."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.messages = []
        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                outer.messages.append({"from": envelope.mail_from, "to": list(envelope.rcpt_tos),
                                       "email": message_from_bytes(envelope.content, policy=policy.default)})
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    @property
    def url(self):
        return f"smtp://127.0.0.1:{self.port}"

    def wait_for(self, count, timeout=10.0):
        return wait_until(lambda: self.messages if len(self.messages) >= count else None, timeout,
                          message=f"{count} emails")

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


class LiveKlaxon:
    """A real `klaxon serve` in its own process group, on a free port, with a temp data dir."""

    def __init__(self, data_dir: Path, env: dict | None = None, workers: int = 2):
        self.port = free_port()
        self.data_dir = data_dir
        self.env = dict(os.environ)
        self.env.update({"KLAXON_DATA_DIR": str(data_dir), "KLAXON_BIND": f"127.0.0.1:{self.port}",
                         "KLAXON_WORKERS": str(workers), "KLAXON_WEBHOOK_ALLOW_CIDRS": "127.0.0.0/8",
                         "KLAXON_SWEEP_INTERVAL": "0.5", "KLAXON_LOG_LEVEL": "INFO"})
        self.env.update(env or {})
        self.log_path = data_dir / "serve.log"
        self.proc = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def cli(self, *args) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "cli", *args], env=self.env, cwd=ROOT,
                              capture_output=True, text=True, timeout=60)

    def start(self, timeout=60.0):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "cli", "serve"], env=self.env, cwd=ROOT,
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

        def up():
            if self.proc.poll() is not None:
                raise AssertionError(f"klaxon serve exited {self.proc.returncode}: {self.log_text()[-2000:]}")
            try:
                return requests.get(self.url + "/readyz", timeout=1).status_code == 200
            except requests.RequestException:
                return False
        wait_until(up, timeout, interval=0.2, message="klaxon serve /readyz")
        return self

    def log_text(self):
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self, timeout=30.0):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc:
            self.log.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
