"""Maintenance windows and heartbeats in a real browser against a real `klaxon serve`: an admin plans a
window with the date-time picker and a timezone, sees the banner on every page and the maintenance
badge on an alert that arrived in it, ends it now; makes a heartbeat from its tile, pings it with the
curl line's URL and reads its state and recent pings. Screenshots go to tests/artifacts/."""
import re
from datetime import UTC, datetime, timedelta

import pytest
import requests

from bench.harness import api_setup

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def server(module_server):
    """One server for the module: the window test's configuration "Monitoring" and window "Database
    upgrade" and the heartbeat test's "Nightly backup" are rows of their own (the window is ended)."""
    return module_server


def local(delta_minutes: int) -> str:
    return (datetime.now(UTC) + timedelta(minutes=delta_minutes)).strftime("%Y-%m-%dT%H:%M")


def test_an_admin_plans_a_window_and_sees_it_everywhere(server, pages, sign_in):
    api = api_setup(server)
    cfg = api.post(server.url + "/api/v1/configurations", json={"name": "Monitoring"}, timeout=10).json()
    page = pages.open()
    sign_in(page)
    page.click("nav.nav >> text=Maintenance")
    page.wait_for_url("**/maintenance")
    pages.shot(page, "maintenance-empty")
    page.fill("#mw-name", "Database upgrade")
    page.fill("#mw-start", local(-5))  # the datetime-local picker takes typed input too
    page.fill("#mw-end", local(90))
    page.select_option("#mw-timezone", "UTC")
    page.check("input[name=scope][value=some]")
    page.check(f"input[name=configuration][value='{cfg['uuid']}']")
    page.check("input[name=notifyOnEnd]")
    page.click("#save-window")
    page.wait_for_url("**/maintenance")
    assert page.locator(".flash-success").count() == 1
    assert page.locator(".banner-maintenance").count() == 1
    assert page.locator("tr:has-text('Database upgrade') .badge-maintenance").count() == 1
    pages.shot(page, "maintenance-active")

    alert = requests.post(server.url + f"/api/integration/1/functions/{cfg['uuid']}/triggers?apiKey={cfg['apiKey']}",
                          json={"subject": "Replica lag during the upgrade"}, timeout=10).json()
    assert alert["maintenance"]
    page.goto("/alerts")
    assert page.locator(".banner-maintenance").count() == 1
    page.locator(".badge-maintenance:has-text('Database upgrade')").wait_for()
    pages.shot(page, "maintenance-alerts")
    page.goto(f"/alerts/{alert['eventIdentifier']}")
    assert page.locator("#maintenance-held").count() == 1
    pages.shot(page, "maintenance-alert")

    page.goto("/maintenance")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("tr:has-text('Database upgrade') >> text=End now")
    page.wait_for_url("**/maintenance")
    assert page.locator(".banner-maintenance").count() == 0
    pages.shot(page, "maintenance-ended")


def test_an_admin_makes_a_heartbeat_and_watches_it(server, pages, sign_in):
    page = pages.open()
    sign_in(page)
    page.goto("/integrations")
    page.click("label.tile[data-template=heartbeat]")
    pages.shot(page, "heartbeat-tile")
    page.click("#next")
    page.wait_for_url(re.compile(r"/integrations/new\?template=heartbeat"))
    page.fill("#name", "Nightly backup")
    page.fill("#intervalMinutes", "1440")
    page.fill("#graceMinutes", "30")
    pages.shot(page, "heartbeat-new")
    page.click("#save")
    page.wait_for_url(re.compile(r"/integrations/[0-9a-f-]{36}$"))
    page.click("text=State, recent pings and the curl line")
    page.wait_for_url(re.compile(r"/heartbeats/[0-9a-f-]{36}$"))
    assert page.locator("#heartbeat-state").text_content().strip() == "Never"
    curl = page.locator("#heartbeat-curl").text_content()
    url = re.search(r"'?(http\S+?)'?$", curl.strip()).group(1)
    for _ in range(2):
        assert requests.get(url, timeout=10).status_code == 200
    page.reload()
    assert page.locator("#heartbeat-state").text_content().strip() == "Up"
    assert page.locator("#recent-pings tbody tr").count() == 2
    pages.shot(page, "heartbeat-detail")
    page.goto("/heartbeats")
    assert page.locator("tr:has-text('Nightly backup') .badge-hb-up").count() == 1
    pages.shot(page, "heartbeats-list")
