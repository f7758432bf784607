"""Fault injection for the reliability suite: kill Redis, workers or the web server of a live
`klaxon serve`, lock or shut the database, keep a receiver down, and post a bounded load."""
from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from http.server import ThreadingHTTPServer

import psutil
import requests

from tests.support import Receiver, free_port, serving, wait_ended, wait_until

REDIS_SERVER = "/usr/bin/redis-server"


# --- processes of a live `klaxon serve` ---------------------------------------------------------

def children(server, needle: str) -> list[psutil.Process]:
    """The serve's descendants whose command line contains ``needle``."""
    found = []
    for proc in psutil.Process(server.proc.pid).children(recursive=True):
        try:
            if needle in " ".join(proc.cmdline()):
                found.append(proc)
        except psutil.NoSuchProcess:
            continue
    return found


def workers(server) -> list[psutil.Process]:
    """The `klaxon worker` processes the supervisor started (not their RQ scheduler children)."""
    procs = children(server, "cli worker")
    pids = {p.pid for p in procs}
    return [p for p in procs if p.ppid() not in pids]


def web_master(server) -> psutil.Process:
    procs = children(server, "gunicorn")
    pids = {p.pid for p in procs}
    (master,) = [p for p in procs if p.ppid() not in pids]
    return master


def kill_tree(proc: psutil.Process) -> list[int]:
    """SIGKILL a process and everything under it; return the pids killed."""
    tree = [proc] + proc.children(recursive=True)
    for p in tree:
        try:
            p.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass
    wait_ended(tree)  # a zombie counts as ended: an orphan waits ~2 s here for PID 1 to reap it
    return [p.pid for p in tree]


def wait_for_new(server, find, old_pids, timeout=30.0):
    """Wait until the supervisor has started a replacement (a pid not in ``old_pids``)."""
    return wait_until(lambda: [p for p in find(server) if p.pid not in old_pids], timeout, interval=0.1,
                      message="the supervisor to start a replacement")


# --- Redis ------------------------------------------------------------------------------------

class OwnRedis:
    """A throw-away redis-server on a free port, for tests that kill Redis (never the shared one)."""

    def __init__(self):
        self.port = free_port()
        self.proc = None

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self):
        # no persistence: a restart loses every queued job, the worst case the sweeper must cover
        self.proc = subprocess.Popen([REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1",
                                      "--save", "", "--appendonly", "no", "--loglevel", "warning"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(self.answers, 10, message=f"redis-server on {self.port}")
        return self

    def answers(self):
        from redis import Redis
        from redis.exceptions import RedisError

        try:
            return Redis.from_url(self.url, socket_connect_timeout=0.5).ping()
        except RedisError:
            return False

    def kill(self):
        self.proc.kill()
        self.proc.wait(10)

    def restart(self, down_for: float):
        """SIGKILL it, stay down ``down_for`` seconds, start it again on the same port, empty."""
        self.kill()
        time.sleep(down_for)
        self.start()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.kill()


def restart_embedded_redis(server) -> None:
    """SIGKILL the serve's embedded redis-server and wait for the supervisor to start another."""
    (proc,) = children(server, "redis-server")
    kill_tree(proc)
    wait_for_new(server, lambda s: children(s, "redis-server"), {proc.pid})


# --- the database -----------------------------------------------------------------------------

class SqliteLock:
    """Hold SQLite's write lock with BEGIN EXCLUSIVE from our own connection, as a stuck writer would."""

    def __init__(self, path):
        self.conn = sqlite3.connect(str(path), timeout=30, isolation_level=None)

    def __enter__(self):
        self.conn.execute("BEGIN EXCLUSIVE")
        return self

    def __exit__(self, *exc):
        self.conn.execute("ROLLBACK")
        self.conn.close()


class PostgresScratch:
    """A scratch database on the test PostgreSQL server that can be shut to connections and reopened."""

    def __init__(self, admin_url: str):
        import uuid

        self.admin_url = admin_url
        self.name = f"klaxon_reliability_{uuid.uuid4().hex[:8]}"
        base, _, _ = admin_url.rpartition("/")
        self.url = f"{base}/{self.name}"

    def _admin(self, *statements):
        import psycopg

        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            for statement in statements:
                conn.execute(statement)

    def create(self):
        self._admin(f'CREATE DATABASE "{self.name}"')
        return self

    def shut(self):
        self._admin(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false',
                    f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{self.name}'")

    def reopen(self):
        self._admin(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS true')

    def drop(self):
        self._admin(f'ALTER DATABASE "{self.name}" ALLOW_CONNECTIONS false',
                    f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{self.name}'",
                    f'DROP DATABASE IF EXISTS "{self.name}"')


# --- a receiver that can be down --------------------------------------------------------------

class ReceiverAt(Receiver):
    """A Receiver on a port chosen in advance, so it can be down (connection refused) and then up."""

    def __init__(self, port: int, **kwargs):
        super().__init__(**kwargs)
        handler = self.server.RequestHandlerClass
        self.server.server_close()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.server.daemon_threads = True
        self.thread = serving(self.server)


# --- load -------------------------------------------------------------------------------------

@dataclass
class Outcome:
    seq: int
    status: int | None  # None: the connection failed
    body: dict | None
    error: str | None = None
    at: float = 0.0  # time.monotonic() when the answer (or the error) came
    retry_after: str | None = None


class Load:
    """POST ``count`` trigger bodies from ``threads`` threads, each request at most once, all
    within ``deadline`` seconds; every outcome (status and body, or the connection error) is kept.
    ``pace`` is the least time between two requests of one thread, so the load spans a fault."""

    def __init__(self, url: str, count: int, body_for, threads: int = 8, deadline: float = 120.0,
                 pace: float = 0.0, timeout: float = 40.0):
        self.url, self.count, self.body_for, self.threads, self.pace = url, count, body_for, threads, pace
        self.timeout = timeout
        self.deadline = time.monotonic() + deadline
        self.outcomes: list[Outcome] = []
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="load")
        self.local = threading.local()

    def _post(self, seq: int) -> None:
        if time.monotonic() > self.deadline:
            outcome = Outcome(seq, None, None, "not sent: deadline")
        else:
            session = getattr(self.local, "session", None) or requests.Session()
            self.local.session = session
            try:
                response = session.post(self.url, data=json.dumps(self.body_for(seq)),
                                        headers={"Content-Type": "application/json"}, timeout=self.timeout)
                try:
                    body = response.json()
                except ValueError:
                    body = {"text": response.text[:500]}
                outcome = Outcome(seq, response.status_code, body, retry_after=response.headers.get("Retry-After"))
            except requests.RequestException as exc:
                self.local.session = None
                outcome = Outcome(seq, None, None, type(exc).__name__)
        outcome.at = time.monotonic()
        with self.lock:
            self.outcomes.append(outcome)
        if self.pace:
            time.sleep(self.pace)

    def start(self):
        for seq in range(self.count):
            self.pool.submit(self._post, seq)
        return self

    def done(self) -> int:
        with self.lock:
            return len(self.outcomes)

    def wait_for(self, n: int, timeout: float = 60.0):
        wait_until(lambda: self.done() >= n, timeout, interval=0.02, message=f"{n} requests answered")

    def join(self):
        self.pool.shutdown(wait=True)
        return sorted(self.outcomes, key=lambda o: o.seq)

    def accepted(self) -> list[Outcome]:
        return [o for o in self.join() if o.status == 202]


# --- mail -------------------------------------------------------------------------------------

class AuthSmtpServer:
    """aiosmtpd on 127.0.0.1 that asks for a login (AUTH PLAIN/LOGIN without TLS) and keeps each message."""

    def __init__(self, username: str, password: str):
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        self.messages, self.logins = [], []
        outer = self

        def authenticator(server, session, envelope, mechanism, auth_data):
            ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
                username.encode(), password.encode())
            outer.logins.append(ok)
            return AuthResult(success=ok)

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                outer.messages.append(envelope.content)
                return "250 OK"

        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, authenticator=authenticator,
                                     auth_require_tls=False, auth_required=True)

    def __enter__(self):
        self.controller.start()
        return self

    def __exit__(self, *exc):
        self.controller.stop()


# --- probes -----------------------------------------------------------------------------------

class HealthProbe:
    """GET ``path`` every ``every`` seconds from a thread (at most ``limit`` probes) and keep, for
    each, the status (None: no answer) and the seconds it took, to show a page answered throughout."""

    def __init__(self, url: str, path: str = "/healthz", every: float = 0.5, timeout: float = 2.0,
                 limit: int = 1000):
        self.url, self.every, self.timeout, self.limit = url + path, every, timeout, limit
        self.results: list[tuple[int | None, float]] = []
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="health-probe", daemon=True)

    def _run(self):
        session = requests.Session()
        while not self.stop_event.is_set() and len(self.results) < self.limit:
            started = time.monotonic()
            try:
                status: int | None = session.get(self.url, timeout=self.timeout).status_code
            except requests.RequestException:
                status, session = None, requests.Session()
            self.results.append((status, time.monotonic() - started))
            self.stop_event.wait(max(0.0, self.every - (time.monotonic() - started)))

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join(10)

    def failures(self, within: float = 1.0) -> list[tuple[int | None, float]]:
        """Probes that did not get a 200 within ``within`` seconds."""
        return [(s, round(t, 2)) for s, t in self.results if s != 200 or t > within]

    def slowest(self) -> float:
        return round(max((t for _, t in self.results), default=0.0), 3)


class Calls:
    """Make ``count`` requests (cycling through ``calls``: (method, path, kwargs)) from ``threads``
    threads, ``pace`` seconds apart per thread, all within ``deadline`` seconds; keep each
    (path, status or error, JSON body or None, Retry-After, time.monotonic())."""

    def __init__(self, base_url: str, calls, count: int, threads: int = 4, pace: float = 0.1,
                 deadline: float = 60.0, timeout: float = 30.0, headers=None):
        self.base_url, self.calls, self.count, self.pace, self.timeout = base_url, list(calls), count, pace, timeout
        self.headers = dict(headers or {})
        self.deadline = time.monotonic() + deadline
        self.results: list[tuple] = []
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="calls")

    def _call(self, seq: int) -> None:
        method, path, kwargs = self.calls[seq % len(self.calls)]
        if time.monotonic() > self.deadline:
            return
        kwargs = dict(kwargs, headers={**self.headers, **kwargs.get("headers", {})})
        try:
            response = requests.request(method, self.base_url + path, timeout=self.timeout, allow_redirects=False,
                                        **kwargs)
            try:
                body = response.json()
            except ValueError:
                body = None
            result = (path, response.status_code, body, response.headers.get("Retry-After"), time.monotonic())
        except requests.RequestException as exc:
            result = (path, type(exc).__name__, None, None, time.monotonic())
        with self.lock:
            self.results.append(result)
        time.sleep(self.pace)

    def start(self):
        for seq in range(self.count):
            self.pool.submit(self._call, seq)
        return self

    def join(self) -> list[tuple]:
        self.pool.shutdown(wait=True)
        return list(self.results)


class SlowClients:
    """``count`` connections that send a request line and then one header line every ``every``
    seconds, never finishing their headers (a slowloris), for at most ``seconds`` seconds."""

    def __init__(self, port: int, count: int = 32, every: float = 2.0, seconds: float = 20.0):
        self.port, self.count, self.every, self.seconds = port, count, every, seconds
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, name="slow-clients", daemon=True)
        self.opened = 0
        self.lines_sent = 0

    def _run(self):
        import socket

        conns = []
        try:
            for _ in range(self.count):
                conn = socket.create_connection(("127.0.0.1", self.port), timeout=5)
                conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                conns.append(conn)
            self.opened = len(conns)
            deadline = time.monotonic() + self.seconds
            while not self.stop_event.wait(self.every) and time.monotonic() < deadline:
                for conn in conns:
                    try:
                        conn.sendall(b"X-Slow: 1\r\n")
                        self.lines_sent += 1
                    except OSError:
                        pass
        finally:
            for conn in conns:
                conn.close()

    def __enter__(self):
        self.thread.start()
        wait_until(lambda: self.opened == self.count or not self.thread.is_alive(), 10,
                   message=f"{self.count} slow connections")
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        self.thread.join(10)
