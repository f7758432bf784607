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

    def database_url(self) -> str:
        """The database this server uses, resolved from its environment as the server resolves it."""
        from config import load_settings

        return load_settings(env=self.env).database_url

    def create_token(self, name="cli") -> str:
        """A REST API token, written into the server's database as `klaxon create-token` writes it
        (that command, a process building the whole app, costs ~1.5 s of CPU; it has tests of its own)."""
        import secrets

        from models import ApiToken

        token = "kx_" + secrets.token_urlsafe(32)
        self._insert(ApiToken.__table__, name=name, token_hash=ApiToken.hash(token))
        return token

    def create_admin(self, username: str, password: str, name: str = "") -> None:
        """An admin, written into the server's database as `klaxon create-admin` makes a new one (that
        command, a process building the whole app, costs ~1.4 s of CPU; it has tests of its own): the
        password hashed by the product's own User.set_password, so signing in checks it as for anyone."""
        from models import User

        user = User(username=username.strip().lower(), name=name, role="admin", active=True)
        user.set_password(password)
        self._insert(User.__table__, **{column: getattr(user, column) for column in
                                        ("username", "name", "role", "active", "password_hash", "session_version")})

    def _insert(self, table, **values) -> None:
        """One row into the server's database, on an engine of its own (SQLite: waiting up to 30 s
        for the server's write lock)."""
        from sqlalchemy import create_engine

        url = self.database_url()
        engine = create_engine(url, connect_args={"timeout": 30} if url.startswith("sqlite") else {})
        try:
            with engine.begin() as conn:
                conn.execute(table.insert().values(**values))
        finally:
            engine.dispose()

    def start(self, timeout=60.0):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_started_at = self.log_path.stat().st_size if self.log_path.exists() else 0
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - kept open for the server's life, closed in stop()
        self.proc = subprocess.Popen([sys.executable, "-m", "cli", "serve"], env=self.env, cwd=ROOT,
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

        deadline = time.monotonic() + timeout

        def up():
            if self.proc.poll() is not None:
                raise AssertionError(f"klaxon serve exited {self.proc.returncode}: {self.log_text()[-2000:]}")
            # Once gunicorn listens, the kernel queues the connection until a web worker has built the
            # app: a long read timeout gets the answer the moment it is up (a 1 s one gave up and asked again)
            wait = max(1.0, min(30.0, deadline - time.monotonic()))
            try:
                return requests.get(self.url + "/readyz", timeout=(1, wait)).status_code == 200
            except requests.RequestException:  # refused: not listening yet (or a /readyz timed out)
                return False
        wait_until(up, timeout, interval=0.05, message="klaxon serve /readyz")
        return self

    def wait_until_all_up(self, timeout=60.0):
        """Wait (after start(), which returns once one web worker answers) until every web worker and
        RQ worker of this start says it is listening: the serve as a person sees it once it is up."""
        web, rq = int(self.env.get("KLAXON_WEB_WORKERS") or 2), int(self.env["KLAXON_WORKERS"])

        def up():
            with open(self.log_path, "rb") as log:
                log.seek(self.log_started_at)
                text = log.read()
            return text.count(b"ASGI server listening") >= web and text.count(b"Listening on") >= rq
        wait_until(up, timeout, interval=0.1, message=f"{web} web and {rq} RQ workers listening")
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
        from config import load_settings
        from runtime.supervisor import gunicorn_args

        self.port = free_port()
        env = {"KLAXON_DATA_DIR": str(data_dir), "KLAXON_BIND": f"127.0.0.1:{self.port}", "KLAXON_LOG_LEVEL": "WARNING"}
        if web_workers:
            env["KLAXON_WEB_WORKERS"] = str(web_workers)
        args = gunicorn_args(load_settings(env=env))
        # same gunicorn settings and front, access log included
        self.args = args[:-1] + ["runtime.front:application('bench.bare_app:create_app')"]
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
    token = server.create_token()
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session
