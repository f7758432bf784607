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

from alerting import embedded_redis

log = logging.getLogger("klaxon.serve")
ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'  # path only: query strings may hold API keys


def gunicorn_args(settings):
    bind = f"[{settings.bind_host}]:{settings.bind_port}" if ":" in settings.bind_host else settings.bind
    return [sys.executable, "-m", "gunicorn", "--bind", bind,
            "--workers", str(settings.web_workers), "--worker-class", "gthread", "--threads", "8",
            "--timeout", "30", "--graceful-timeout", "10", "--keep-alive", "5",
            "--access-logfile", "-", "--access-logformat", ACCESS_LOG_FORMAT,
            "--error-logfile", "-", "--log-level", settings.log_level.lower(),
            "app:create_app()"]


class Supervisor:
    def __init__(self, settings):
        self.settings = settings
        self.children: dict[str, tuple[list[str], subprocess.Popen]] = {}
        self.redis = None
        self.stopping = False

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
        proc = subprocess.Popen(args, env=env, preexec_fn=embedded_redis.die_with_parent)
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

    def watch(self, env) -> int:
        restarts: dict[str, list[float]] = {}
        while not self.stopping:
            time.sleep(0.2)
            for name, (args, proc) in list(self.children.items()):
                if proc.poll() is None or self.stopping:
                    continue
                recent = [t for t in restarts.get(name, []) if time.monotonic() - t < 60] + [time.monotonic()]
                restarts[name] = recent
                if len(recent) > 5:
                    log.error("%s keeps exiting (code %s); stopping Klaxon", name, proc.returncode)
                    self.stopping = True
                    break
                log.warning("%s exited with %s; restarting", name, proc.returncode)
                self.spawn(name, args, env)
            if self.redis is not None and self.redis.poll() is not None and not self.stopping:
                log.warning("embedded Redis exited; restarting it")
                self.redis, _ = embedded_redis.start(self.settings.data_dir)
        return self.shutdown()

    def shutdown(self) -> int:
        log.info("stopping Klaxon")
        for _, proc in self.children.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
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
