"""A heartbeat on a real `klaxon serve` (two workers; a minute is a second here): silence past interval
+ grace opens exactly one "No heartbeat" alert, the next ping ends it, and killing `klaxon serve`
(SIGKILL, every process) and starting it again mid-outage, before and after the alert opened,
neither loses nor duplicates it."""
import time

import pytest
import requests

from tests.support import KILL_TEST_LEASE_ENV, Receiver, stop_live, wait_until

pytestmark = pytest.mark.slow
# Minutes of a second, and the short lease of the kill tests: a worker killed by a restart may
# hold an update, and the updates of one alert go out in order behind it.
MINUTE = {"KLAXON_MINUTE_SECONDS": "1", **KILL_TEST_LEASE_ENV}
INTERVAL, GRACE = 3, 2  # seconds, with MINUTE


def restart(klaxon):
    stop_live(klaxon.server)  # SIGKILL the whole process group
    klaxon.server.start()


def test_silence_opens_one_alert_that_survives_restarts_and_the_next_ping_ends_it(site, figures):
    with Receiver() as receiver:
        klaxon = site(env=MINUTE, workers=2)
        klaxon.user("bsmith", [("webhook", "Pager", f"{receiver.url}/page")])
        cfg = klaxon.call("POST", "/api/v1/configurations", expect=201, json={
            "template": "heartbeat", "name": "Nightly backup", "intervalMinutes": INTERVAL, "graceMinutes": GRACE,
            "recipients": [{"id": "bsmith", "recipientType": "PERSON"}],
            "updates": {"status": {"enabled": True, "url": f"{receiver.url}/status"}}}).json()
        url = klaxon.trigger_url(cfg)

        def heartbeat():
            return klaxon.call("GET", f"/api/v1/configurations/{cfg['uuid']}", expect=200).json()["heartbeat"]

        def alerts():
            return klaxon.alerts(configuration=cfg["uuid"])

        pinged = requests.get(url, timeout=10)
        assert pinged.status_code == 200 and pinged.json()["status"] == "up"
        silent_from = time.monotonic()
        restart(klaxon)  # mid-outage, before the alert: it must still open
        assert heartbeat()["state"] in ("up", "late", "down")
        (alert,) = wait_until(alerts, 30, interval=0.2, message="the no-heartbeat alert")
        opened_after = time.monotonic() - silent_from
        assert opened_after >= INTERVAL + GRACE - 0.5, opened_after
        assert alert["subject"].startswith("No heartbeat from Nightly backup for ") and alert["status"] == "ACTIVE"
        receiver.wait_for(1, timeout=20, path="/page")
        restart(klaxon)  # mid-outage, after the alert: no second one
        time.sleep(3)  # six sweeps on two workers
        assert [a["alertId"] for a in alerts()] == [alert["alertId"]]
        assert heartbeat()["state"] == "down"
        assert requests.post(url, data="backup done", timeout=10).status_code == 200
        (ended,) = alerts()
        assert ended["status"] == "TERMINATED_EXTERNAL"
        wait_until(lambda: any(b["status"] == "terminated_external" for b in receiver.json_bodies("/status")), 20,
                   message="the terminated status update")
        last = [b for b in receiver.json_bodies("/status") if b["status"] == "terminated_external"]
        assert len(last) == 1 and last[0]["username"] == "integration:Nightly backup"
        assert heartbeat()["state"] == "up"
        assert len(receiver.json_bodies("/page")) == 1
        metrics = klaxon.call("GET", "/metrics", expect=200).text
        assert 'klaxon_heartbeats{state="up"} 1.0' in metrics
    figures.update(alerts=len(alerts()), pages=1, seconds_from_last_ping_to_alert=round(opened_after, 1))
