"""On-call in a real browser against a real `klaxon serve` (issue 15): an admin gives a group two shifts
through the editor, reads the week and month calendar (desktop and 375 px), covers the current shift with
"cover for me" and sees "on call now" change; then responds to an alert from the alert page.
Screenshots go to tests/artifacts/oncall-*.png."""
import time
from datetime import UTC, datetime, timedelta

import pytest
import requests

from bench.harness import api_setup
from tests.browser.conftest import ARTIFACTS, SCREENSHOTS

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def email(name):
    return {"name": "Mail", "kind": "email", "target": f"{name}@example.com"}


@pytest.fixture
def server(module_server):
    """One server for the module, its people made once (``people``): the calendar test works on the
    group Night Owls, the alert test on a configuration "Monitoring" paging admin, rows of their own."""
    return module_server


@pytest.fixture(scope="module")
def people(module_server):
    setup_people(module_server)


def setup_people(server):
    api = api_setup(server)
    for name in ("bsmith", "jdoe"):
        assert api.post(server.url + "/api/v1/users", json={"username": name, "devices": [email(name)]},
                        timeout=10).status_code == 201
    assert api.post(server.url + "/api/v1/users/admin/devices", json=email("admin"), timeout=10).status_code == 201
    assert api.post(server.url + "/api/v1/groups", json={"name": "Night Owls"}, timeout=10).status_code == 201
    return api


def fill_shift(page, i, name, start, end, members):
    at = f"shifts\\[{i}\\]"
    page.fill(f"#s{i}-name", name)
    page.fill(f"#s{i}-start", start)
    page.fill(f"#s{i}-end", end)
    page.select_option(f"#s{i}-freq", "DAILY")
    for day in ("MO", "TU", "WE", "TH", "FR"):
        page.uncheck(f"input[name={at}\\.recurrence\\.byDay][value={day}]")
    for member in members:
        page.select_option(f"#s{i}-new", f"PERSON:{member}")
        page.click(f"#shift-{i} button[value='add-member:{i}']")
        page.locator(f"#shift-{i} input[value='{member}']").wait_for(state="attached")


def nav(page, label):
    """Click a calendar link and wait for HTMX to swap in the calendar it names."""
    before = page.inner_text("#calendar h2")
    page.click(f"#calendar a:has-text('{label}')")
    page.wait_for_function("b => document.querySelector('#calendar h2').innerText !== b", arg=before)


def viewport_shot(page, name, selector=None):
    """What a phone shows at once (the full-page shot is too tall to judge at 375 px)."""
    if selector:
        page.locator(selector).scroll_into_view_if_needed()
    if SCREENSHOTS:
        page.screenshot(path=str(ARTIFACTS / f"{name}.png"))


def clear_of_a_shift_change(margin=60):
    """The shifts below change at 00:00 and 12:00 UTC; the test reads which one holds now and then checks who
    is on call seconds later, so a run that starts within ``margin`` seconds of a change waits until it has
    passed (a CI pass once crossed noon there: "Nights" chosen at 11:59:5x, "Days" on call at 12:00:0x)."""
    now = datetime.now(UTC)
    to_change = 43200 - (now.hour % 12 * 3600 + now.minute * 60 + now.second + now.microsecond / 1e6)
    if to_change < margin:
        time.sleep(to_change + 1)


def test_two_shifts_a_calendar_cover_for_me_and_on_call_now(server, people, pages, sign_in):
    clear_of_a_shift_change()
    page = pages.open()
    sign_in(page)
    page.goto("/people/groups")
    assert "On call now" in page.inner_text(".group-card")
    page.click("h2 >> text=Night Owls")
    page.wait_for_url("**/on-call")
    pages.shot(page, "oncall-empty")
    today = datetime.now(UTC).date()  # the group's zone is UTC
    monday = today - timedelta(days=today.weekday())
    page.click("button[value=add-shift]")
    page.locator("#shift-0").wait_for()
    fill_shift(page, 0, "Days", f"{monday}T00:00", f"{monday}T12:00", ["admin", "bsmith"])
    page.click("button[value=add-shift]")
    page.locator("#shift-1").wait_for()
    fill_shift(page, 1, "Nights", f"{monday}T12:00", f"{monday + timedelta(days=1)}T00:00", ["admin", "jdoe"])
    page.fill("#s0-after", "5")
    page.fill("#s0-times", "0")
    pages.shot(page, "oncall-editor")
    page.click("button[name=save]")
    page.locator(".flash-success").wait_for()
    assert page.locator("#calendar .shift-chip").count() == 14
    assert page.inner_text("#on-call-now strong") == "admin"
    pages.shot(page, "oncall-week")

    nav(page, "Month")
    assert page.locator(".cal-month").count() == 1 and "view=month" in page.url  # swapped in place, URL pushed
    assert page.locator(".cal-month td.today").count() == 1
    pages.shot(page, "oncall-month")
    nav(page, "Next ›")
    nav(page, "Week")
    nav(page, "Today")
    page.locator(".cal-week tr.today").wait_for()

    current = "Days" if datetime.now(UTC).hour < 12 else "Nights"
    page.click(f".cal-week tr.today .shift-chip:has-text('{current}') >> text=Cover for me")
    page.locator("#override-form h3:has-text('Cover for me')").wait_for()
    assert page.input_value("#ov-member") == "admin" and page.input_value("#ov-shift") == current
    pages.shot(page, "oncall-cover-for-me")
    page.click("#override-form button[type=submit]")
    page.locator(".flash-success").wait_for()
    assert page.inner_text("#on-call-now strong") == ("bsmith" if current == "Days" else "jdoe")
    assert page.locator(".override-list li").count() == 1

    phone = pages.open(width=375, height=800)
    sign_in(phone)
    phone.goto(page.url.split("#")[0])
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    pages.shot(phone, "oncall-week-375")
    viewport_shot(phone, "oncall-week-375-top")
    viewport_shot(phone, "oncall-editor-375", "#shift-0")
    nav(phone, "Month")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    pages.shot(phone, "oncall-month-375")
    viewport_shot(phone, "oncall-month-375-top", "#calendar")


def test_responding_from_the_alert_page(server, people, pages, sign_in):
    api = api_setup(server)
    cfg = api.post(server.url + "/api/v1/configurations", json={
        "name": "Monitoring", "recipients": [{"id": "admin", "recipientType": "PERSON"}]}, timeout=10).json()
    alert = requests.post(server.url + f"/api/integration/1/functions/{cfg['uuid']}/triggers?apiKey={cfg['apiKey']}",
                          json={"subject": "Disk full on db-1"}, timeout=10).json()
    page = pages.open()
    sign_in(page)
    page.goto(f"/alerts/{alert['eventIdentifier']}")
    page.click("#respond button:has-text('Acknowledge')")
    page.locator("#last-response").wait_for()
    assert "Acknowledge" in page.inner_text("#last-response")
    page.locator("#timeline li[data-type=RESPONSE_RECEIVED]").wait_for()
    pages.shot(page, "oncall-alert-responded")
    page.goto("/alerts")
    assert "Acknowledge by admin" in page.inner_text("#alert-rows")
    phone = pages.open(width=375, height=800)
    sign_in(phone)
    phone.goto(f"/alerts/{alert['eventIdentifier']}")
    pages.shot(phone, "oncall-alert-375")
