"""A flow's "Response option" and "New status" show only for the "When" they belong to (issue 19, item 10, part)."""
import pytest

from bench.harness import api_setup

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_trigger_fields_follow_the_when_select(server, pages, sign_in):
    api = api_setup(server)
    config = api.post(server.url + "/api/v1/configurations", json={"name": "Monitoring"}, timeout=10).json()
    page = pages.open()
    sign_in(page)
    page.goto(f"/integrations/{config['uuid']}/flows/new")
    response, status = page.locator("#triggerResponse"), page.locator("#triggerStatus")
    page.select_option("#triggerType", "alert.created")
    assert not response.is_visible() and not status.is_visible()
    page.select_option("#triggerType", "alert.response")
    assert response.is_visible() and not status.is_visible()
    assert page.locator("#triggerResponse option").all_text_contents() == ["Any response", "Acknowledge", "Resolve"]
    page.select_option("#triggerType", "alert.status")
    assert status.is_visible() and not response.is_visible()
    page.click('#flow-form button[value="view:json"]')  # the Advanced tab: steps as JSON
    page.locator("#steps").wait_for()
    assert "mono" in page.evaluate("getComputedStyle(document.querySelector('#steps')).fontFamily").lower()
    pages.shot(page, "flow-when-fields")
