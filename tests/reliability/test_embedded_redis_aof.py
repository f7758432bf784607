"""An embedded Redis whose append-only file is damaged (a full disk, a crash mid-write, a bad
restore) neither keeps `klaxon serve` from starting nor takes a running Klaxon down: the damaged
file is moved aside (klaxon.aof.damaged-<UTC time>), the log says so and where, Redis starts
empty, and alerts are taken and notified as before. Redis holds no ledger data, so nothing an
alert needs is lost.

SQLite + embedded Redis only (CI pass 1): with KLAXON_REDIS_URL, Redis and its files are the
operator's, not Klaxon's.
"""
import json
import time

import pytest

from tests.conftest import TEST_REDIS
from tests.reliability.faults import HealthProbe, children, kill_tree, wait_for_new
from tests.support import Receiver, wait_until

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(bool(TEST_REDIS), reason="embedded Redis only: an external Redis's files are "
                                                          "the operator's")]
SUPERVISOR_TRACEBACK = 'runtime/supervisor.py", line'
GARBAGE = b"*2\r\n$3\r\nNOT-A-REDIS-COMMAND\r\n"


def damage(data_dir):
    with open(data_dir / "klaxon.aof", "ab") as aof:
        aof.write(GARBAGE)


def notified(klaxon, cfg, device, seq):
    alert = klaxon.call("POST", klaxon.trigger_url(cfg).removeprefix(klaxon.url),
                        json={"properties": {"Summary": f"after the AOF #{seq}"}}, expect=202).json()
    wait_until(lambda: any(json.loads(r["body"])["eventIdentifier"] == alert["eventIdentifier"]
                           for r in device.requests), 30, message="the alert's notification")


def test_a_damaged_aof_is_moved_aside_at_start_and_klaxon_starts(site, figures):
    with Receiver() as device:
        klaxon = site(workers=1)
        klaxon.user("oncall", [("webhook", "Pager", f"{device.url}/page")])
        cfg = klaxon.configuration(recipients=["oncall"])
        notified(klaxon, cfg, device, 1)
        klaxon.server.stop()
        damage(klaxon.server.data_dir)
        started = time.monotonic()
        klaxon.server.start()  # waits for /readyz 200; fails if `klaxon serve` exits
        took = time.monotonic() - started
        aside = sorted(p.name for p in klaxon.server.data_dir.glob("klaxon.aof.damaged-*"))
        assert len(aside) == 1, sorted(p.name for p in klaxon.server.data_dir.iterdir())
        assert "cannot read its append-only file" in klaxon.server.log_text() and aside[0] in klaxon.server.log_text()
        assert SUPERVISOR_TRACEBACK not in klaxon.server.log_text()
        notified(klaxon, cfg, device, 2)
    figures.update(seconds_to_start=round(took, 1), moved_to=aside[0].split("-", 1)[0] + "-…")


def test_a_damaged_aof_met_by_a_redis_restart_does_not_take_klaxon_down(site, figures):
    with Receiver() as device:
        klaxon = site(workers=1)
        klaxon.user("oncall", [("webhook", "Pager", f"{device.url}/page")])
        cfg = klaxon.configuration(recipients=["oncall"])
        with HealthProbe(klaxon.url, every=0.25, limit=200) as health:
            (redis,) = children(klaxon.server, "redis-server")
            damage(klaxon.server.data_dir)
            kill_tree(redis)
            wait_for_new(klaxon.server, lambda s: children(s, "redis-server"), {redis.pid})
            wait_until(lambda: klaxon.call("GET", "/readyz").status_code == 200, 30, interval=0.2,
                       message="/readyz after the Redis restart")
            notified(klaxon, cfg, device, 1)
        assert klaxon.server.proc.poll() is None, klaxon.server.log_text()[-1500:]
        assert health.failures(within=1.0) == [], health.failures()[:10]
        assert len(list(klaxon.server.data_dir.glob("klaxon.aof.damaged-*"))) == 1
        assert SUPERVISOR_TRACEBACK not in klaxon.server.log_text()
    figures.update(healthz_probes=len(health.results), healthz_slowest_seconds=health.slowest())
