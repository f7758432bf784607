"""32 slow clients (a request line, then one header line every 2 s, never done) do not starve
the web server: /healthz answers within 1 s throughout and the app itself (/readyz, an alert
through the integration URL) within 2 s. gunicorn's gthread worker gave each half-read request
a thread: 16 such clients made /healthz time out and 24 stopped the service; the front is now
gunicorn's asyncio worker (runtime/front.py), which reads headers in its event loop.

Both modes alike: the front does not depend on the database or Redis.
"""
import json
import time

import pytest
import requests

from tests.reliability.faults import HealthProbe, SlowClients

pytestmark = pytest.mark.slow
SLOW = 32
SECONDS = 12  # long enough for what is asserted: 5 header lines from each slow client (one every 2 s)
# and 20 /healthz probes (one every 0.4 s: ~30)
LIVE_WEB_WORKERS = 2  # production's web processes (tests/conftest.py live_web_workers)


def test_32_slow_clients_do_not_starve_health_or_the_app(site, figures):
    klaxon = site(workers=1)  # the web is under test; one RQ worker takes the few jobs
    cfg = klaxon.configuration()
    app_times = []
    with SlowClients(klaxon.server.port, count=SLOW, every=2.0, seconds=SECONDS + 5) as slow, \
            HealthProbe(klaxon.url, every=0.4, timeout=2.0, limit=100) as health:
        deadline = time.monotonic() + SECONDS
        for seq in range(40):  # bounded: at most 40 rounds, SECONDS seconds
            if time.monotonic() > deadline:
                break
            started = time.monotonic()
            ready = requests.get(klaxon.url + "/readyz", timeout=5)
            alert = requests.post(klaxon.trigger_url(cfg), data=json.dumps({"properties": {"Seq": seq}}),
                                  headers={"Content-Type": "application/json"}, timeout=5)
            app_times.append((ready.status_code, alert.status_code, time.monotonic() - started))
            time.sleep(0.5)
        assert slow.thread.is_alive(), "the slow clients were cut off before the test ended"
    assert slow.opened == SLOW and slow.lines_sent >= SLOW * 5, (slow.opened, slow.lines_sent)
    assert len(health.results) >= 20 and health.failures(within=1.0) == [], health.failures()[:10]
    assert all(r == 200 and a == 202 and t < 2 for r, a, t in app_times), app_times
    figures.update(slow_clients=SLOW, header_lines_sent=slow.lines_sent, healthz_probes=len(health.results),
                   healthz_slowest_seconds=health.slowest(), app_rounds=len(app_times),
                   app_slowest_seconds=round(max(t for *_, t in app_times), 2))
