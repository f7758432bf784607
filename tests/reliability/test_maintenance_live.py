"""A maintenance window on a real `klaxon serve` with two workers: an alert inside it is stored and
shown, notifies nobody and still sends its status update; with notifyOnEnd, the alert still ACTIVE
when the window ends is notified then, exactly once, and the one ended during the window never.
A nightly window planned in summer time keeps its wall-clock hours in winter (the DST change
between its first night and today)."""
import json
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.reliability.shared_serve import shared_serve
from tests.support import Receiver, wait_until

pytestmark = pytest.mark.slow
WINDOW_SECONDS = 8


def wall(delta_seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=delta_seconds)).strftime("%Y-%m-%dT%H:%M:%S")


@pytest.fixture(scope="module")
def shared(request, tmp_path_factory, live_database, template_database):
    yield from shared_serve(request, tmp_path_factory, live_database, template_database)


def test_an_alert_in_a_window_notifies_nobody_then_once_when_it_ends(shared, figures):
    with Receiver() as receiver:
        klaxon = shared(workers=2)
        klaxon.user("bsmith", [("webhook", "Pager", f"{receiver.url}/page")])
        cfg = klaxon.configuration(updates={"status": f"{receiver.url}/status"}, recipients=["bsmith"])
        window = klaxon.call("POST", "/api/v1/maintenance-windows", expect=201, json={
            "name": "Failover drill", "start": wall(-60), "end": wall(WINDOW_SECONDS),
            "configurations": [cfg["uuid"]], "notifyOnEnd": True}).json()
        assert window["active"] is True
        ends = datetime.fromisoformat(window["occurrence"]["end"].replace("Z", "+00:00"))
        still = klaxon.call("POST", klaxon.trigger_url(cfg).removeprefix(klaxon.url), expect=202,
                            json={"subject": "still active at the end"}).json()
        ended = klaxon.call("POST", klaxon.trigger_url(cfg).removeprefix(klaxon.url), expect=202,
                            json={"subject": "ended inside the window"}).json()
        assert still["maintenance"] == window["id"] and any("maintenance" in w for w in still["warnings"])
        klaxon.call("POST", f"/api/v1/alerts/{ended['alertId']}/status", expect=200,
                    json={"status": "TERMINATED_EXTERNAL"})
        receiver.wait_for(3, path="/status")  # two "active" and one "terminated_external" still go out
        stored = klaxon.call("GET", f"/api/v1/alerts/{still['alertId']}", expect=200).json()
        assert stored["maintenance"] == window["id"] and stored["status"] == "ACTIVE"
        dashboard_list = klaxon.alerts(configuration=cfg["uuid"])
        assert {a["alertId"] for a in dashboard_list} == {still["alertId"], ended["alertId"]}
        while datetime.now(UTC) < ends - timedelta(seconds=1):
            assert receiver.json_bodies("/page") == [], "someone was notified inside the window"
            time.sleep(0.2)
        (page,) = receiver.wait_for(1, timeout=20, path="/page")
        notified_after = time.time() - ends.timestamp()
        assert "still active at the end" in json.loads(page["body"])["subject"]
        time.sleep(5)  # ten sweeps on two workers: still one page
        pages = receiver.json_bodies("/page")
        assert len(pages) == 1, pages
        after = klaxon.call("GET", f"/api/v1/alerts/{still['alertId']}", expect=200).json()
        assert [n["deliveryStatus"] for n in after["notifications"]] == ["Delivered"]
        metrics = klaxon.call("GET", "/metrics", expect=200).text
        assert "klaxon_alerts_suppressed_by_maintenance 2.0" in metrics
        wait_until(lambda: not klaxon.call("GET", f"/api/v1/maintenance-windows/{window['id']}").json()["active"],
                   5, message="the window over")
    figures.update(alerts=2, pages=len(pages), seconds_from_window_end_to_page=round(notified_after, 2))


BERLIN = ZoneInfo("Europe/Berlin")


def summer_night(local_now: datetime, from_minutes: int, to_minutes: int) -> tuple[str, str]:
    """Start and end, as Berlin wall-clock times on 1 July 2026 (CEST, UTC+2), of a window from
    ``from_minutes`` to ``to_minutes`` around the wall-clock time of ``local_now``."""
    base = datetime(2026, 7, 1, local_now.hour, local_now.minute)
    return ((base + timedelta(minutes=from_minutes)).strftime("%Y-%m-%dT%H:%M"),
            (base + timedelta(minutes=to_minutes)).strftime("%Y-%m-%dT%H:%M"))


def test_a_nightly_window_planned_in_summer_keeps_its_wall_clock_hours_after_the_dst_change(shared):
    """Both windows began on 1 July (UTC+2) and repeat daily; today Berlin may be on UTC+1. The
    one around the current wall-clock time is active and holds an alert; the one starting half an
    hour from now is not. Repeating every 24 hours in UTC instead would swap them in winter."""
    klaxon = shared(workers=2)
    cfg = klaxon.configuration(name="Nightly batch")
    local_now = datetime.now(UTC).astimezone(BERLIN)
    windows = {}
    for name, (from_minutes, to_minutes) in {"around now": (-30, 30), "later": (30, 90)}.items():
        start, end = summer_night(local_now, from_minutes, to_minutes)
        windows[name] = klaxon.call("POST", "/api/v1/maintenance-windows", expect=201, json={
            "name": f"Nightly {name}", "start": start, "end": end, "timezone": "Europe/Berlin",
            "recurrence": {"frequency": "DAILY"}, "configurations": [cfg["uuid"]]}).json()
    assert windows["around now"]["active"] is True, windows["around now"]
    assert windows["later"]["active"] is False, windows["later"]
    occurrence = windows["around now"]["occurrence"]
    starts = datetime.fromisoformat(occurrence["start"].replace("Z", "+00:00")).astimezone(BERLIN)
    assert (starts.hour, starts.minute) == ((local_now - timedelta(minutes=30)).hour,
                                            (local_now - timedelta(minutes=30)).minute), occurrence
    held = klaxon.call("POST", klaxon.trigger_url(cfg).removeprefix(klaxon.url), expect=202,
                       json={"subject": "during the nightly batch"}).json()
    assert held["maintenance"] == windows["around now"]["id"], held
