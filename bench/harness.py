"""Run a real `klaxon serve` (and a bare gunicorn yardstick) on 127.0.0.1 for benchmarks and tests."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
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


class BareFlask:
    """The yardstick: bench.bare_app under gunicorn with the same settings `klaxon serve` uses."""

    def __init__(self, data_dir: Path, web_workers: int | None = None):
        from alerting.supervisor import gunicorn_args
        from config import load_settings

        self.port = free_port()
        env = {"KLAXON_DATA_DIR": str(data_dir), "KLAXON_BIND": f"127.0.0.1:{self.port}", "KLAXON_LOG_LEVEL": "WARNING"}
        if web_workers:
            env["KLAXON_WEB_WORKERS"] = str(web_workers)
        args = gunicorn_args(load_settings(env=env))
        self.args = args[:-1] + ["bench.bare_app:create_app()"]  # same gunicorn settings, access log included
        self.proc = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self.proc = subprocess.Popen(self.args, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)

        def up():
            try:
                return requests.post(self.url + "/bare", json={}, timeout=1).status_code == 202
            except requests.RequestException:
                return False
        wait_until(up, 30, interval=0.2, message="bare gunicorn")
        return self

    def __exit__(self, *exc):
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(20)


def load(url, duration=8.0, concurrency=16, rate=0.0, body="{}", headers=(), record=False, max_requests=None,
         method="POST"):
    """Run bench.loadgen in its own process (never in the server's) and return its JSON result."""
    import json

    cmd = [sys.executable, "-m", "bench.loadgen", url, "--duration", str(duration),
           "--concurrency", str(concurrency), "--rate", str(rate), "--body", body, "--method", method]
    for header in headers:
        cmd += ["--header", header]
    if record:
        cmd.append("--record")
    if max_requests:
        cmd += ["--max-requests", str(max_requests)]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=duration + 120)
    if out.returncode != 0:
        raise RuntimeError(f"loadgen failed: {out.stderr[-500:]}")
    return json.loads(out.stdout)


def progress(message: str) -> None:
    """One line on stderr (stdout carries only the JSON figures)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def api_setup(server):
    """A token and a session for the REST API of a running Klaxon."""
    token = server.cli("create-token").stdout.strip()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session
