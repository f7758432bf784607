"""A shared Redis away for 60 s under a bounded load (5 alerts/s for 70 s): Klaxon keeps taking
alerts (they are rows; Redis only rings the bell), /healthz answers throughout, nothing stops,
and once Redis is back every alert that got a 202 is stored and its person notified once.
A worker also dies during the outage (a crash, an OOM kill, RQ quitting on a Redis error after a
job): its replacement must wait for Redis, not exit, and the supervisor must not stop Klaxon.

Both modes use a redis-server of this test's own as "the shared Redis" (KLAXON_REDIS_URL), so
the suite's Redis is never killed: with SQLite the serve is started here (the live_klaxon
fixture gives a SQLite serve the embedded Redis), with PostgreSQL through the site fixture.
"""
import json
import time
from collections import Counter

import pytest

from bench.harness import LiveKlaxon
from tests.conftest import TEST_REDIS
from tests.reliability.conftest import Site
from tests.reliability.faults import HealthProbe, Load, OwnRedis, kill_tree, workers
from tests.support import Receiver, stop_live, wait_until

pytestmark = pytest.mark.slow
RATE_THREADS = 5  # 5 threads, one post a second each: ~5 alerts/s
SECONDS_OF_LOAD = 70
DOWN_SECONDS = 60


@pytest.fixture
def shared_redis():
    redis = OwnRedis().start()
    yield redis
    redis.stop()


@pytest.fixture
def klaxon_on(site, live_env, tmp_path):
    """Factory: a Site over a `klaxon serve` whose KLAXON_REDIS_URL is ``redis.url``."""
    started = []

    def start(redis, workers=1):
        if TEST_REDIS:
            return site(env={"KLAXON_REDIS_URL": redis.url}, workers=workers)
        server = LiveKlaxon(tmp_path / f"own-redis{len(started)}", workers=workers,
                            env=dict(live_env, KLAXON_REDIS_URL=redis.url))
        started.append(server)
        return Site(server.start())

    yield start
    for server in started:
        stop_live(server)


def body_for(seq):
    return {"properties": {"Summary": f"shared Redis down #{seq}", "Seq": seq}}


def pages(device):
    return Counter(json.loads(r["body"])["eventIdentifier"] for r in device.requests if r["path"] == "/page")


def test_a_shared_redis_away_for_a_minute_loses_no_alert_and_never_stops_klaxon(shared_redis, klaxon_on, figures):
    with Receiver() as device:
        klaxon = klaxon_on(shared_redis, workers=2)  # one is killed mid-outage; the other keeps its place
        klaxon.user("oncall", [("webhook", "Pager", f"{device.url}/page")])
        cfg = klaxon.configuration(recipients=["oncall"])
        with HealthProbe(klaxon.url, every=0.5, timeout=2.0, limit=400) as health:
            load = Load(klaxon.trigger_url(cfg), RATE_THREADS * SECONDS_OF_LOAD, body_for, threads=RATE_THREADS,
                        deadline=SECONDS_OF_LOAD + 30, pace=1.0).start()
            time.sleep(5)
            shared_redis.kill()
            down_at = load.done()
            time.sleep(3)
            (crashed, *_) = workers(klaxon.server)
            kill_tree(crashed)
            time.sleep(DOWN_SECONDS - 3)
            shared_redis.start()
            back = time.monotonic()
            up_at = load.done()
            outcomes = load.join()
        assert klaxon.server.proc.poll() is None, f"klaxon serve stopped: {klaxon.server.log_text()[-1500:]}"
        answers = Counter(o.status or o.error for o in outcomes)
        assert answers == {202: len(outcomes)}, f"answers other than 202: {answers}"
        assert health.failures(within=1.0) == [], f"/healthz failed or slow: {health.failures()[:10]}"
        accepted = {o.body["eventIdentifier"] for o in outcomes}
        stored = {a["eventIdentifier"] for a in klaxon.alerts(configuration=cfg["uuid"])}
        assert accepted <= stored, f"accepted but not stored: {sorted(accepted - stored)[:10]}"
        wait_until(lambda: accepted <= set(pages(device)), 120, interval=0.5,
                   message=f"{len(accepted)} notifications at the device")
        healed = time.monotonic() - back
        time.sleep(2)  # a duplicate would come now
        twice = {e: n for e, n in pages(device).items() if n > 1}
        assert not twice, f"notified more than once: {list(twice.items())[:10]}"
    log = klaxon.server.log_text()
    figures.update(posted=len(outcomes), answers=dict(answers), answered_before_outage=down_at,
                   answered_during_outage=up_at - down_at, redis_down_seconds=DOWN_SECONDS,
                   seconds_until_all_notified_after_redis_back=round(healed, 1), healthz_probes=len(health.results),
                   healthz_slowest_seconds=health.slowest(), worker_restarts=log.count("exited with"))
