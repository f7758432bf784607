"""Redis killed and restarted while 500 alerts are posted: every alert that got a 202 is stored,
its people are notified and its update webhook is delivered once Redis is back.

Redis only rings the bell (jobs); the rows are the ledger and the sweeper queues what a lost
queue dropped. With the embedded Redis the supervisor restarts the redis-server we kill; with
an external Redis (CI pass 2) the serve uses a redis-server of this test's own, so the shared
one is never killed.
"""
import json
import time
from collections import Counter

import pytest

from tests.reliability.faults import Load, restart_embedded_redis
from tests.support import Receiver, wait_until

pytestmark = pytest.mark.slow
ALERTS = 500
DOWN_SECONDS = 2.0
PACE = 0.06  # seconds between two alerts of one load thread


def body_for(seq):
    return {"properties": {"Summary": f"Redis restart #{seq}", "Seq": seq}, "message": "load"}


def restart_redis(server, own_redis):
    """Kill Redis mid-load: the embedded one is restarted by the supervisor, our own by us."""
    if own_redis is None:
        restart_embedded_redis(server)
    else:
        own_redis.restart(down_for=DOWN_SECONDS)  # the web keeps answering: Redis failures are swallowed


def event_ids(receiver, path):
    return {json.loads(r["body"])["eventIdentifier"] for r in receiver.requests if r["path"] == path}


def test_every_accepted_alert_is_stored_notified_and_updated_across_a_redis_restart(own_redis, site, figures):
    with Receiver() as device, Receiver() as updates:
        # one RQ worker: what brings back the jobs Redis lost is the sweeper (worker-0's), not a second worker
        klaxon = site(env={"KLAXON_REDIS_URL": own_redis.url} if own_redis else None, workers=1)
        klaxon.user("oncall", [("webhook", "Pager", f"{device.url}/page")])
        cfg = klaxon.configuration(updates={"status": f"{updates.url}/status"}, recipients=["oncall"])
        started = time.monotonic()
        # paced (8 threads, at most ~130 alerts/s): the 400 after the restart take longer than Redis is away
        load = Load(klaxon.trigger_url(cfg), ALERTS, body_for, threads=8, deadline=150, pace=PACE).start()
        load.wait_for(ALERTS // 5)
        restart_redis(klaxon.server, own_redis)
        answered_at_restart = load.done()
        outcomes = load.join()
        posted = time.monotonic() - started
        accepted = {o.body["eventIdentifier"] for o in outcomes if o.status == 202}
        others = Counter(o.status or o.error for o in outcomes if o.status != 202)
        assert answered_at_restart < ALERTS, "the load ended before Redis was back"
        assert set(others) <= {503}, f"answers other than 202 and 503: {others}"

        stored = {a["eventIdentifier"] for a in klaxon.alerts(configuration=cfg["uuid"])}
        assert accepted <= stored, f"accepted but not stored: {sorted(accepted - stored)[:10]}"
        wait_until(lambda: accepted <= event_ids(device, "/page"), 150, interval=0.2,
                   message=f"{len(accepted)} notifications at the device")
        notified = time.monotonic() - started
        wait_until(lambda: accepted <= event_ids(updates, "/status"), 150, interval=0.2,
                   message=f"{len(accepted)} status updates")
        wait_until(lambda: {m["status"] for m in klaxon.messages(configuration=cfg["uuid"])} == {"delivered"},
                   60, interval=0.25, message="every update message to be delivered")
    figures.update(posted=ALERTS, accepted=len(accepted), other_answers=dict(others),
                   answered_when_redis_killed=answered_at_restart, seconds_to_post=round(posted, 1),
                   seconds_until_all_notified=round(notified, 1), device_posts=len(device.requests),
                   update_posts=len(updates.requests), redis="own redis-server" if own_redis else "embedded")
