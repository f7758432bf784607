"""Ctrl-C stops `klaxon serve` quickly and quietly, even with a browser's idle spare connection open,
and gunicorn keeps no control socket outside the data dir (issue 19, items 13 and 15)."""
import os
import signal
import socket
import time

import pytest
import requests

from tests.support import LiveKlaxon

pytestmark = pytest.mark.slow


def test_ctrl_c_stops_serve_within_seconds_with_no_sigkill_or_traceback(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    env = dict.fromkeys(("KLAXON_DATABASE_URL", "KLAXON_REDIS_URL"), "")
    env.update(HOME=str(home), XDG_RUNTIME_DIR="")
    # one web and one RQ worker: the spare, half-sent and kept-alive connections all meet that one web
    # worker (with two, either might get each), and the RQ worker is worker-0, the one with the sweeper
    env["KLAXON_WEB_WORKERS"] = "1"
    server = LiveKlaxon(tmp_path / "data", env=env, workers=1)
    server.start().wait_until_all_up()  # Ctrl-C on a serve that is up, not on workers still starting
    try:
        host, port = server.url.removeprefix("http://").split(":")
        spare = socket.create_connection((host, int(port)), timeout=5)  # a browser's pre-opened connection
        slow = socket.create_connection((host, int(port)), timeout=5)  # a client half-way through its request
        slow.sendall(b"GET /login HTTP/1.1\r\nHost: localhost\r\n")
        kept = requests.Session()
        assert kept.get(server.url + "/login", timeout=5).status_code == 200  # a kept-alive one
        time.sleep(0.5)
        started = time.monotonic()
        os.killpg(server.proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
        code = server.proc.wait(20)
        took = time.monotonic() - started
        spare.close()
        slow.close()
    finally:
        if server.proc.poll() is None:
            os.killpg(server.proc.pid, signal.SIGKILL)
        server.log.close()
    log = server.log_text()
    assert code == 0, log[-3000:]
    assert took < 9.5, f"took {took:.1f} s to stop:\n{log[-3000:]}"
    for bad in ("SIGKILL", "Traceback", "out of memory", "killing it"):
        assert bad not in log, log[-3000:]
    assert not (home / ".gunicorn").exists(), "gunicorn wrote a control socket in the home directory"
