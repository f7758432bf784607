"""The admin's whole job in a real browser against a real `klaxon serve`: sign in, add a person with a
webhook device, set up a Webhook integration, tick Delivery updates, build a two-branch flow with the
step forms (no JSON), send a test alert, and see the notification on the alert's timeline, the update
webhook arrive at the receiver and the flow's HIGH branch call it too."""
import json
import re

import pytest

from tests.browser.test_flow_editor import build_two_branches
from tests.support import Receiver

pytestmark = [pytest.mark.browser, pytest.mark.slow]
UUID_PAGE = re.compile(r"/integrations/[0-9a-f-]{36}$")


def add_person_with_a_webhook_device(page, pages, device_url):
    page.goto("/people")
    page.fill("#username", "bsmith")
    page.fill("#full-name", "Bob Smith")
    page.click("#add-user button[type=submit]")
    card = page.locator("#user-bsmith")
    card.wait_for()
    card.locator("input[name=name]").fill("Ops hook")
    card.locator("select[name=kind]").select_option("webhook")
    card.locator("input[name=target]").fill(device_url)
    card.locator("button:has-text('Add device')").click()
    page.locator("#user-bsmith .device:has-text('Ops hook')").wait_for()
    pages.shot(page, "people")


def pick_the_webhook_template(page, pages):
    page.goto("/integrations")
    page.fill("#template-search", "webhook")
    page.locator("label.tile[data-template=pagerduty]").wait_for(state="detached")
    assert page.locator("label.tile[data-template=custom]").count() == 0
    page.click("label.tile[data-template=webhook]")
    assert page.is_checked("input[name=template][value=webhook]")
    pages.shot(page, "templates")
    page.click("#next")
    page.wait_for_url("**/integrations/new?template=webhook")


def fill_and_save_the_configuration(page, pages):
    page.fill("#name", "Production monitoring")
    page.fill("#description", "Alerts from Prometheus in prod")
    page.fill("#senderName", "Prod Monitoring")
    page.select_option("#priority", "HIGH")
    page.fill("#recipient-search", "bsm")
    page.click("#recipient-results .suggestion:has-text('bsmith')")
    page.locator("#recipient-chips .chip:has-text('bsmith')").wait_for()
    assert page.input_value("#recipient-search") == ""
    page.click("#save")
    page.wait_for_url(UUID_PAGE)
    url = page.input_value("#integration-url")
    assert "/api/integration/1/functions/" in url and "apiKey=" in url
    assert json.loads(page.text_content("#sample-payload"))["priority"] == "HIGH"
    assert page.text_content("#curl-command").startswith("curl -X POST")
    assert "every send makes a new alert" in page.text_content("#sample-note")
    assert page.evaluate("(el => el.scrollHeight <= el.clientHeight + 1)(document.querySelector('#integration-url'))")
    pages.shot(page, "configuration")
    return page.url


def tick_delivery_updates(page, pages, hook_url):
    page.click(".tabs a:has-text('Updates')")
    page.check("#delivery_enabled")
    page.fill("#delivery_url", hook_url)
    page.click("#save-updates")
    page.locator("#flashes .flash-success:has-text('Saved the update webhooks')").wait_for()
    assert page.is_checked("#delivery_enabled") and page.input_value("#delivery_url") == hook_url
    page.fill("#status_url", hook_url.rsplit("/", 1)[0] + "/status-test")  # not saved: only tried
    page.click("#test-status")
    page.locator("#test-result-status:has-text('HTTP 200')").wait_for()
    page.click("[data-reveal=signing-secret]")
    assert page.input_value("#signing-secret").startswith("whsec_")
    pages.shot(page, "updates")


def build_a_two_branch_flow(page, pages, configuration_url, hook_url):
    page.goto(configuration_url)
    page.click(".tabs a:has-text('Flows')")
    page.click("#new-flow")
    page.wait_for_url("**/flows/new")
    build_two_branches(page, pages, hook_url)
    assert page.locator('#diagram g[data-step="page_ops"]').count() == 1
    pages.shot(page, "flow")


def send_a_test_alert_and_open_it(page, configuration_url):
    page.goto(configuration_url)
    page.click("#send-test")
    page.click("#test-alert-link")
    page.wait_for_url(re.compile(r"/alerts/\d+$"))


def test_an_admin_sets_up_an_integration_and_hears_back(pages, sign_in):
    with Receiver() as device, Receiver() as updates:
        page = pages.open()
        sign_in(page)
        pages.shot(page, "alerts-empty")
        add_person_with_a_webhook_device(page, pages, device.url + "/page")
        pick_the_webhook_template(page, pages)
        configuration_url = fill_and_save_the_configuration(page, pages)
        tick_delivery_updates(page, pages, updates.url + "/delivery")
        build_a_two_branch_flow(page, pages, configuration_url, updates.url + "/flow")
        send_a_test_alert_and_open_it(page, configuration_url)
        # the activity panel polls every 3 s: the delivery shows up without a reload
        page.locator('#timeline [data-type="NOTIFICATION_DELIVERED"]').wait_for(timeout=45_000)
        assert "Ops hook" in page.text_content('#timeline [data-type="NOTIFICATION_DELIVERED"]')
        assert device.wait_for(1, path="/page", timeout=30)
        assert json.loads(updates.wait_for(1, path="/status-test")[0]["body"])["test"] is True
        update = json.loads(updates.wait_for(1, path="/delivery", timeout=45)[0]["body"])
        assert (update["recipient"], update["device"], update["deliveryStatus"]) == ("bsmith", "Ops hook", "Delivered")
        [called] = updates.wait_for(1, path="/flow", timeout=45)  # the flow's HIGH branch ran on the test alert
        assert called["headers"].get("X-Team") == "ops" and json.loads(called["body"])["subject"]
        page.locator("#activity .messages summary .badge-delivered").wait_for(timeout=45_000)
        pages.shot(page, "alert")
        page.goto("/alerts")
        page.locator("#alert-rows tr.alert-row").first.wait_for()
        pages.shot(page, "alerts")
        page.goto("/deliveries")
        assert page.locator("#delivery-results .badge-delivered").count() >= 1
        pages.shot(page, "deliveries")
        page.goto(configuration_url + "/updates")
        assert "HTTP 200" in page.text_content("#update-delivery .last-result")
        pages.shot(page, "updates-after-delivery")
