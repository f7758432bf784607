"""The web server (gunicorn) killed and restarted mid-load: no alert that got a 202 is lost, and
clients see connection errors, never a wrong answer (a 5xx, or a 202 naming another alert)."""
import time
from collections import Counter

import pytest

from tests.reliability.faults import Load, kill_tree, wait_for_new, web_master
from tests.support import wait_until

pytestmark = pytest.mark.slow
REQUESTS = 400


def body_for(seq):
    return {"properties": {"Summary": f"web restart #{seq}", "Seq": seq}}


def web_masters(server):
    try:
        return [web_master(server)]
    except ValueError:  # none yet, or the old one's workers still dying
        return []


def test_no_accepted_alert_is_lost_when_the_web_server_dies_mid_load(site, figures):
    klaxon = site(workers=1)  # the web is killed; one RQ worker takes the jobs
    cfg = klaxon.configuration()
    load = Load(klaxon.trigger_url(cfg), REQUESTS, body_for, threads=8, deadline=120, pace=0.1).start()
    load.wait_for(REQUESTS // 4)
    old = web_master(klaxon.server)
    killed_at = time.monotonic()
    killed = kill_tree(old)  # SIGKILL: requests in flight are cut, not finished
    wait_for_new(klaxon.server, web_masters, set(killed))
    outcomes = load.join()

    answers = Counter(o.status or o.error for o in outcomes)
    assert set(answers) - {202, "ConnectionError"} == set(), f"answers other than 202 or a connection error: {answers}"
    assert answers["ConnectionError"] > 0, "the load never saw the web server down"
    down_at = min((o.at for o in outcomes if o.error), default=killed_at)
    back = [o.at - down_at for o in outcomes if o.status == 202 and o.at > down_at]
    assert back, "the load never saw the web server back"
    wait_until(lambda: klaxon.call("GET", "/readyz").status_code == 200, 30, message="the web server back")
    stored = {a["alertId"]: a for a in klaxon.alerts(configuration=cfg["uuid"])}
    for outcome in outcomes:
        if outcome.status == 202:
            alert = stored.get(outcome.body["alertId"])
            assert alert is not None, f"request {outcome.seq} got a 202 but its alert is gone"
            assert alert["properties"]["Seq"] == outcome.seq, f"request {outcome.seq} got another alert's answer"
    assert len(stored) == len({a["properties"]["Seq"] for a in stored.values()}), "one request stored twice"
    figures.update(requests=REQUESTS, accepted=answers[202], connection_errors=answers["ConnectionError"],
                   stored=len(stored), stored_without_a_202=len(stored) - answers[202],
                   seconds_from_first_error_to_next_202=round(min(back), 1))

