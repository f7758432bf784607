"""Real parts for tests: an HTTP receiver and an SMTP server on 127.0.0.1 (and `klaxon serve` from bench.harness)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psutil

from bench.harness import ROOT, LiveKlaxon, free_port, wait_until  # noqa: F401  (re-exported for tests)

# The update-webhook lease the kill tests run Klaxon with (production: 30 s). Only the request
# a worker is killed in waits (3 s), so no live worker outlives its lease.
KILL_TEST_LEASE_SECONDS = 3
KILL_TEST_LEASE_ENV = {"KLAXON_WEBHOOK_LEASE_SECONDS": str(KILL_TEST_LEASE_SECONDS)}


def stop_live(server) -> None:
    """End a live `klaxon serve` after its test: SIGKILL its whole process group (supervisor,
    gunicorn, RQ workers, embedded Redis). Nothing is checked after a test, and a graceful stop
    costs seconds: SIGTERM lets idle keep-alive connections linger 2 s, and a gunicorn thread
    blocked on a connection that sends nothing (a browser's spare one) holds either signal's stop
    for gunicorn's 10 s graceful timeout. Tests that check a graceful stop signal it themselves
    (test_serve: SIGINT; test_secrets_in_logs: stop())."""
    if server.proc:
        # The supervisor's children run in process groups of their own (so Ctrl-C reaches each
        # once): take the whole tree, or gunicorn and the workers outlive the test on SIGTERM.
        try:
            family = psutil.Process(server.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            family = []
        try:
            os.killpg(server.proc.pid, signal.SIGKILL)  # also any child left by a supervisor that died
        except ProcessLookupError:
            pass
        for proc in family:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        wait_ended(family)
        # and any process of this serve the snapshot missed (a child started as its parent was
        # killed): in PostgreSQL mode a leftover RQ worker would take the next tests' jobs
        strays = [proc for proc in psutil.process_iter() if _of_serve(proc, server.data_dir)]
        for proc in strays:
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass
        wait_ended(strays)
    server.stop()  # reaps it and closes the log


def _of_serve(proc: psutil.Process, data_dir) -> bool:
    """Whether ``proc`` runs with this serve's KLAXON_DATA_DIR (the supervisor's children inherit it)."""
    try:
        return proc.pid != os.getpid() and proc.environ().get("KLAXON_DATA_DIR") == str(data_dir)
    except (psutil.Error, OSError):
        return False


def start_worker(settings, *args: str, env: dict | None = None) -> subprocess.Popen:
    """A `klaxon worker` process (``args``: e.g. --no-sweeper) on a test's settings, in a process group
    of its own (the worker and what it starts die together); its log is worker-<args>.log in the data dir."""
    merged = dict(os.environ)
    merged.update({"KLAXON_DATA_DIR": str(settings.data_dir), "KLAXON_DATABASE_URL": settings.database_url,
                   "KLAXON_REDIS_URL": settings.redis_url, "KLAXON_SECRET_KEY": settings.secret_key,
                   "KLAXON_BASE_URL": settings.base_url, "KLAXON_WEBHOOK_ALLOW_CIDRS": "127.0.0.0/8",
                   "KLAXON_SWEEP_INTERVAL": "0.5", "KLAXON_LOG_LEVEL": "WARNING",
                   "KLAXON_WEBHOOK_LEASE_SECONDS": str(settings.webhook_lease_seconds)})
    merged.update(env or {})
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    name = "-".join(arg.strip("-") for arg in args) or "default"
    with open(settings.data_dir / f"worker-{name}.log", "ab") as log:  # the worker keeps its own copy open
        return subprocess.Popen([sys.executable, "-m", "cli", "worker", *args], env=merged, cwd=ROOT,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop_worker(proc: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Signal a worker started by ``start_worker`` (its whole group); SIGKILL it if it is not gone in 20 s."""
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def ended(proc: psutil.Process) -> bool:
    """Gone, or a zombie: dead, its sockets and files closed, waiting only to be reaped."""
    try:
        return proc.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def wait_ended(procs, timeout: float = 10.0) -> list[psutil.Process]:
    """Wait until every process in ``procs`` has ended (see ``ended``); return those still running.

    A killed serve's children are orphans that this machine's PID 1 reaps only every ~2 s, so
    psutil.wait_procs (which waits for the pid to vanish) took ~2 s after every live test."""
    deadline = time.monotonic() + timeout
    running = [p for p in procs if not ended(p)]
    while running and time.monotonic() < deadline:
        time.sleep(0.02)
        running = [p for p in running if not ended(p)]
    return running


def serving(server) -> threading.Thread:
    """A daemon thread serving ``server``; it checks for shutdown every 10 ms (the default 0.5 s
    made every test with a receiver wait half a second to close it)."""
    return threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # listen() backlog: a fan-out opens dozens of connections at once (default 5)


class Receiver:
    """A real HTTP server on 127.0.0.1 that records requests and answers from a script.

    ``script`` is a list of (status, headers, body) used in turn; the last one repeats.
    ``delay`` is the seconds to wait before answering (to test timeouts), or a list of them used
    in turn like ``script``: [3, 0] keeps only the first request waiting.
    """

    def __init__(self, script=None, delay=0.0):
        self.requests: list[dict] = []
        self.script = list(script or [(200, {}, b'{"ok": true}')])
        self.delays = list(delay) if isinstance(delay, (list, tuple)) else [delay]
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                receiver._handle(self)

            do_PUT = do_PATCH = do_GET = do_DELETE = do_POST

            def log_message(self, *args):
                pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = serving(self.server)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def _handle(self, handler):
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        with self.lock:
            index = len(self.requests)
            status, headers, reply = self.script[min(index, len(self.script) - 1)]
            delay = self.delays[min(index, len(self.delays) - 1)]
            self.requests.append({"method": handler.command, "path": handler.path, "headers": dict(handler.headers),
                                  "body": body, "at": time.time()})
            self.arrived.notify_all()
        if delay:
            time.sleep(delay)
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


# --- configurations and alerts through the REST API and the integration URL ---------------------

UPDATE_TYPES = ("status", "delivery", "response")
ALERT = {"properties": {"Summary": "Disk full on db-1", "Host": "db-1"}, "message": "Free space fell below 5%"}


def clear_of_a_minute_edge(margin: float = 2.0) -> None:
    """Wait out the last ``margin`` seconds of the wall-clock minute, if now is in them: the rate
    limit counts per minute (alerting/alerts/ratelimit.py), so a test's requests that straddled
    the edge would be counted in two windows and the one over the limit would pass."""
    left = 60 - time.time() % 60
    if left < margin:
        time.sleep(left + 0.05)


def integration_path(cfg, key=True) -> str:
    """The path of a configuration's integration URL (with ?apiKey= unless ``key`` is False);
    ``cfg`` is its JSON from the REST API or a Configuration row."""
    uuid, api_key = (cfg["uuid"], cfg["apiKey"]) if isinstance(cfg, dict) else (cfg.uuid, cfg.api_key)
    path = f"/api/integration/1/functions/{uuid}/triggers"
    return f"{path}?apiKey={api_key}" if key else path


def send_alert(client, cfg, body, key=True, **kwargs):
    """POST ``body`` to the integration URL as a sender would; the response, whatever it is.
    json.dumps keeps the order of properties, which is part of the contract."""
    return client.post(integration_path(cfg, key), data=json.dumps(body), content_type="application/json", **kwargs)


def trigger(client, cfg, body=None):
    """An alert through the integration URL (``ALERT`` unless ``body``); its JSON answer, after a 202."""
    response = send_alert(client, cfg, ALERT if body is None else body)
    assert response.status_code == 202, response.get_data(as_text=True)[:500]
    return response.get_json()


def updates_to(receiver, types=("status",)) -> dict:
    """The ``updates`` of a configuration whose update types in ``types`` post to ``receiver`` at /<type>."""
    return {t: {"enabled": t in types, "url": f"{receiver.url}/{t}" if t in types else None} for t in UPDATE_TYPES}


def make_config(api, **fields):
    """A configuration made through the REST API (a webhook one named Monitoring unless ``fields``
    say otherwise); its JSON, after a 201."""
    response = api.post("/api/v1/configurations", json={"template": "webhook", "name": "Monitoring", **fields})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def header(request, name):
    """A header of a request a Receiver recorded, by case-insensitive name."""
    return {k.lower(): v for k, v in request["headers"].items()}[name.lower()]


def verified(request, secret):
    """The body of a request a Receiver recorded, after checking its Standard Webhooks signature."""
    from standardwebhooks import Webhook

    return Webhook(secret).verify(request["body"], request["headers"])


# --- update-webhook tests ----------------------------------------------------------------------

def updates_config(api, receiver, types=("status",), **extra):
    """A configuration whose update types in ``types`` post to ``receiver`` at /<type>."""
    return make_config(api, senderName="Prod Monitoring", responseOptions=[
        {"text": "Acknowledge", "action": "STOP_NOTIFYING_USER"}, {"text": "Resolve", "action": "END"}],
        updates=updates_to(receiver, types), **extra)


def webhook_messages(**filters):
    """The update-webhook messages (fresh from the database) matching ``filters``, oldest first."""
    from extensions import db
    from models import WebhookMessage

    db.session.expire_all()
    return db.session.query(WebhookMessage).filter_by(**filters).order_by(WebhookMessage.id).all()


def drive(run_jobs, until, timeout=15.0):
    """Run queued and due scheduled jobs, as a worker would, until ``until()`` holds."""
    from extensions import db

    def step():
        run_jobs(rounds=1)
        db.session.expire_all()
        return until()
    return wait_until(step, timeout, interval=0.2, message="the webhook messages to settle")


# --- notification tests ------------------------------------------------------------------------

OPTIONS = [{"text": "Acknowledge", "action": "STOP_NOTIFYING_USER"},
           {"text": "Resolve", "action": "END", "description": "Close the alert"}]


def notify_config(api, recipients, options=OPTIONS, **extra):
    """A HIGH configuration that notifies ``recipients`` (see ``person``) with response ``options``."""
    return make_config(api, senderName="Prod Monitoring", priority="HIGH", recipients=recipients,
                       responseOptions=options, **extra)


def add_user(api, username, devices):
    response = api.post("/api/v1/users", json={"username": username, "devices": devices})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def hook(receiver, name, path=None, **extra):
    """A webhook device posting to ``receiver`` at /<path or name>."""
    return {"name": name, "kind": "webhook", "target": f"{receiver.url}/{path or name}", **extra}


def person(username):
    return {"id": username, "recipientType": "PERSON"}


def alert_json(api, alert_id):
    return api.get(f"/api/v1/alerts/{alert_id}").get_json()


def empty_postgres_database(url: str) -> None:
    """Empty every table of a PostgreSQL test database but Alembic's, and restart its id sequences."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        names = [r[0] for r in conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname='public' AND tablename<>'alembic_version'"))]
        if names:
            conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
    engine.dispose()
