"""`klaxon serve`: one process group of gunicorn, RQ workers and (maybe) the embedded Redis.

The supervisor restarts a child that dies, and on SIGINT/SIGTERM stops the web server and
workers first, then Redis, so nothing is left running.
"""
from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import time

from runtime import embedded_redis

log = logging.getLogger("klaxon.serve")
ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'  # path only: query strings may hold API keys


def gunicorn_args(settings):
    bind = f"[{settings.bind_host}]:{settings.bind_port}" if ":" in settings.bind_host else settings.bind
    return [sys.executable, "-m", "gunicorn", "--bind", bind,
            # asyncio front (runtime/front.py): a slow client costs a coroutine, not one of the app's threads
            "--workers", str(settings.web_workers), "--worker-class", "asgi", "--worker-connections", "1000",
            "--timeout", "30", "--graceful-timeout", "10", "--keep-alive", "2",
            # no control socket: gunicorn would put it in ~/.gunicorn/, outside the data dir, and Klaxon needs none
            "--no-control-socket", "--config", "python:runtime.gunicorn_hooks",
            "--access-logfile", "-", "--access-logformat", ACCESS_LOG_FORMAT,
            "--logger-class", "runtime.logsafe.GunicornLogger",
            "--error-logfile", "-", "--log-level", settings.log_level.lower(),
            "runtime.front:application()"]


class Supervisor:
    def __init__(self, settings):
        self.settings = settings
        self.children: dict[str, tuple[list[str], subprocess.Popen]] = {}
        self.redis = None
        self.redis_retry_at = 0.0
        self.stopping = False
        self.stop_signal = signal.SIGTERM

    def child_env(self, redis_url):
        env = dict(os.environ)
        env["KLAXON_REDIS_URL"] = redis_url
        env["KLAXON_SECRET_KEY"] = self.settings.secret_key
        env["KLAXON_DATA_DIR"] = str(self.settings.data_dir)
        prom = self.settings.data_dir / "prometheus"
        shutil.rmtree(prom, ignore_errors=True)
        prom.mkdir(parents=True, exist_ok=True)
        env["PROMETHEUS_MULTIPROC_DIR"] = str(prom)
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def spawn(self, name, args, env):
        # Own process group: a terminal's Ctrl-C reaches only the supervisor, which then stops each child
        # once (a second signal makes an RQ worker kill its job, and gunicorn's stop wait for nothing).
        proc = subprocess.Popen(args, env=env, preexec_fn=embedded_redis.die_with_parent(os.getpid()),
                                process_group=0)
        self.children[name] = (args, proc)
        log.info("started %s (pid %s)", name, proc.pid)

    def run(self) -> int:
        logging.basicConfig(level=self.settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        redis_url = self.settings.redis_url
        if not redis_url:
            try:
                self.redis, redis_url = embedded_redis.start(self.settings.data_dir)
            except RuntimeError as exc:
                print(f"klaxon: {exc}", file=sys.stderr)
                return 2
            log.info("embedded Redis on %s", redis_url)
        env = self.child_env(redis_url)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._on_signal)
        self.spawn("web", gunicorn_args(self.settings), env)
        worker_cmd = [sys.executable, "-m", "cli", "worker"]
        for n in range(self.settings.workers):
            self.spawn(f"worker-{n}", worker_cmd + ([] if n == 0 else ["--no-sweeper"]), env)
        log.info("Klaxon is up on %s (web, %d workers)", self.settings.base_url, self.settings.workers)
        return self.watch(env)

    def _on_signal(self, signum, _frame):
        self.stopping = True
        self.stop_signal = signum

    def watch(self, env) -> int:
        restarts: dict[str, list[float]] = {}
        due: dict[str, float] = {}  # child name -> when to start it again
        while not self.stopping:
            time.sleep(0.2)
            for name, (args, proc) in list(self.children.items()):
                if self.stopping:
                    break
                if name in due:
                    if time.monotonic() >= due[name]:
                        del due[name]
                        self.spawn(name, args, env)
                    continue
                if proc.poll() is None:
                    continue
                delay = self.restart_delay(name, proc.returncode, restarts)
                if delay is None:
                    self.stopping = True
                    break
                due[name] = time.monotonic() + delay
            self.watch_redis()
        return self.shutdown()

    def restart_delay(self, name, code, restarts) -> float | None:
        """Seconds to wait before starting ``name`` again; None: stop Klaxon (only the web can cause it).

        A worker that keeps exiting is restarted with a growing delay (up to 30 s) for ever: the web
        keeps taking alerts without workers, and the sweeper queues their work once they are back.
        """
        now = time.monotonic()
        recent = [t for t in restarts.get(name, []) if now - t < 60] + [now]
        restarts[name] = recent
        if name == "web":
            if len(recent) > 5:
                log.error("web keeps exiting (code %s); stopping Klaxon", code)
                return None
            log.warning("web exited with %s; restarting", code)
            return 0.0
        delay = 0.0 if len(recent) == 1 else min(30.0, 2.0 ** (len(recent) - 2))
        log.warning("%s exited with %s; restarting in %.0f s", name, code, delay)
        return delay

    def watch_redis(self) -> None:
        """Start the embedded Redis again if it exited; retried every 5 s while it cannot start."""
        if self.redis is None or self.redis.poll() is None or self.stopping:
            return
        if time.monotonic() < self.redis_retry_at:
            return
        log.warning("embedded Redis exited; restarting it")
        try:
            self.redis, _ = embedded_redis.start(self.settings.data_dir)
        except RuntimeError as exc:
            self.redis_retry_at = time.monotonic() + 5
            log.error("%s; Klaxon keeps taking alerts (the database keeps them) and tries again in 5 s", exc)

    def shutdown(self) -> int:
        log.info("stopping Klaxon")
        for name, (_, proc) in self.children.items():
            if proc.poll() is None:  # Ctrl-C stops the web at once (gunicorn's INT); TERM lets requests finish
                proc.send_signal(self.stop_signal if name == "web" else signal.SIGTERM)
        deadline = time.monotonic() + 15
        for name, (_, proc) in self.children.items():
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop in time; killing it", name)
                proc.kill()
                proc.wait()
        if self.redis is not None:
            embedded_redis.stop(self.redis)
        log.info("stopped")
        return 0
