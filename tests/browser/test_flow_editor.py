"""The flow editor in a real browser against a real `klaxon serve` (issue 19, item 10): an admin builds a
two-branch flow with the step forms alone, sees a validation error beside its field, saves it, finds
the same flow in the REST API, round-trips it through the Advanced (JSON) tab both ways, and runs it."""
import json
import re

import pytest

from bench.harness import api_setup
from tests.browser.conftest import ARTIFACTS
from tests.support import Receiver

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def shot(pages, page, name):
    """A screenshot; Playwright's leaves an empty style="" on elements, which htmx's swap would copy onto
    their replacements (a CSP report that no user's browser makes), so those are taken off again."""
    pages.shot(page, name)
    page.evaluate("document.querySelectorAll('[style=\"\"]').forEach(e => e.removeAttribute('style'))")


def click_and_wait(page, button, appears=None, gone=None):
    """Press an editor button (an HTMX swap of the editor) and wait for what it changes."""
    page.click(f'#flow-form button[value="{button}"]')
    if appears:
        page.locator(appears).first.wait_for()
    if gone:
        page.locator(gone).wait_for(state="detached")


def add_step(page, into: str, kind: str, new_prefix: str):
    page.select_option(f'#flow-form select[name="kind:{into}"]', kind)
    click_and_wait(page, f"add:{into}", appears=f'[name="{new_prefix}.name"]')


def build_two_branches(page, pages, page_url):
    """Trigger alert.created; a switch on the priority: HIGH calls the pager, any other comments."""
    page.fill("#name", "Route by priority")
    page.select_option("#triggerType", "alert.response")  # the reference shows that trigger's fields
    assert page.locator('details[data-trigger="alert.response"]').get_attribute("open") is not None
    assert page.locator('details[data-trigger="alert.created"]').get_attribute("open") is None
    page.select_option("#triggerType", "alert.created")
    assert page.locator("#triggerResponse").is_hidden() and page.locator("#triggerStatus").is_hidden()
    # the starter steps go, a switch comes
    click_and_wait(page, "remove:s1", gone='li[data-step="note"]')
    click_and_wait(page, "remove:s0", gone='li[data-step="ticket"]')
    add_step(page, "", "switch", "s0")
    assert page.input_value('[name="s0.value"]') == "{{ alert.priority }}"
    assert [page.input_value(f'[name="s0.b{j}.case"]') for j in (0, 1)] == ["HIGH", "default"]
    page.fill('[name="s0.name"]', "route")
    add_step(page, "s0.b0", "http_request", "s0.b0.s0")
    assert page.input_value('[name="s0.name"]') == "route"  # what was typed survives the editor's swaps
    page.fill('[name="s0.b0.s0.name"]', "page_ops")
    page.fill('[name="s0.b0.s0.headers.key"]', "X-Team")
    page.fill('[name="s0.b0.s0.headers.value"]', "ops")
    page.fill('[name="s0.b0.s0.body"]', '{"subject": {{ alert.subject | tojson }}}')
    add_step(page, "s0.b1", "update_alert", "s0.b1.s0")
    page.fill('[name="s0.b1.s0.name"]', "note")
    page.fill('[name="s0.b1.s0.comment"]', "Low priority: {{ alert.subject }}")
    # a last top-level step, moved above the switch and removed again
    add_step(page, "", "update_alert", "s1")
    click_and_wait(page, "up:s1", appears='#steps-top > li:first-child[data-step="update_1"]')
    shot(pages, page, "flow-editor-building")
    click_and_wait(page, "remove:s0", gone='li[data-step="update_1"]')

    page.click("#save-flow")  # the pager's URL is still empty
    error = page.locator('[data-error-for="s0.b0.s0.url"]')
    error.wait_for()
    assert "required" in error.text_content()
    page.locator('li[data-step="page_ops"].step-has-error').wait_for()  # the class settles after the swap
    assert page.input_value('[name="s0.b1.s0.comment"]') == "Low priority: {{ alert.subject }}"
    shot(pages, page, "flow-editor-error")
    page.fill('[name="s0.b0.s0.url"]', page_url)
    page.click("#save-flow")
    page.wait_for_url(re.compile(r"/flows/\d+$"))


def expected_steps(page_url, comment="Low priority: {{ alert.subject }}", team="ops"):
    return [{"name": "route", "type": "switch", "value": "{{ alert.priority }}", "cases": {
        "HIGH": [{"name": "page_ops", "type": "http_request", "method": "POST", "url": page_url,
                  "headers": {"X-Team": team}, "body": '{"subject": {{ alert.subject | tojson }}}'}],
        "default": [{"name": "note", "type": "update_alert", "action": "comment", "comment": comment}]}}]


def test_an_admin_builds_a_two_branch_flow_without_json(server, pages, sign_in):
    api = api_setup(server)
    config = api.post(server.url + "/api/v1/configurations", json={"name": "Monitoring", "priority": "HIGH"},
                      timeout=10).json()
    flows_api = f"{server.url}/api/v1/configurations/{config['uuid']}/flows"
    with Receiver() as pager:
        page_url = pager.url + "/page"
        page = pages.open(width=1360, height=1000)
        sign_in(page)
        page.goto(f"/integrations/{config['uuid']}/flows/new")
        assert page.locator("#field-reference").is_visible()
        reference = page.text_content("#field-reference")
        for words in ("alert.subject", "trigger.username", "trigger.deliveryStatus", "trigger.response",
                      "steps.<name>.json", "steps.ticket"):
            assert words in reference
        shot(pages, page, "flow-editor-new")
        build_two_branches(page, pages, page_url)

        [saved] = api.get(flows_api, timeout=10).json()["items"]
        assert saved["trigger"] == {"type": "alert.created"} and saved["name"] == "Route by priority"
        assert saved["steps"] == expected_steps(page_url)
        for step in ("When", "route", "page_ops", "note"):
            assert page.locator(f'#diagram g[data-step="{step}"]').count() == 1
        shot(pages, page, "flow-editor-saved")

        # Advanced: the JSON shows the forms' flow; JSON edited shows in the forms; forms edited show in the JSON
        click_and_wait(page, "view:json", appears="#steps")
        assert json.loads(page.input_value("#steps")) == saved["steps"]
        page.fill("#steps", page.input_value("#steps").replace("Low priority", "Not urgent"))
        shot(pages, page, "flow-editor-json")
        click_and_wait(page, "view:forms", appears='[name="s0.b1.s0.comment"]')
        assert page.input_value('[name="s0.b1.s0.comment"]') == "Not urgent: {{ alert.subject }}"
        page.fill('[name="s0.b0.s0.headers.value"] >> nth=0', "dba")
        click_and_wait(page, "view:json", appears="#steps")
        shown = json.loads(page.input_value("#steps"))
        assert shown == expected_steps(page_url, "Not urgent: {{ alert.subject }}", "dba")
        with page.expect_navigation():  # the page is already at /flows/<id>: wait for the save's own answer
            page.click("#save-flow")  # from the JSON tab: the same flow
        assert re.search(r"/flows/\d+$", page.url), page.url
        assert api.get(f"{flows_api}/{saved['id']}", timeout=10).json()["steps"] == shown

        page.click("#run-sample")  # the sample alert is HIGH: the pager is called
        page.locator("#runs .run-row .badge-succeeded").wait_for(timeout=60_000)  # a worker on 2 busy cores
        assert json.loads(pager.wait_for(1, path="/page")[0]["body"]) == {"subject": "Disk full on db-1"}
        assert page.locator('#runs .step-row[data-step="page_ops"] .badge-succeeded').count() == 1
        output = page.locator('#runs .step-row[data-step="route"] pre').nth(1)
        assert output.evaluate("el => getComputedStyle(el).whiteSpace") == "pre"  # JSON is not broken mid-word
        shot(pages, page, "flow-editor-run")

        phone = pages.open(width=390, height=844)  # the same page on a phone: one column, nothing wider
        sign_in(phone)
        phone.goto(page.url)
        phone.locator('li[data-step="page_ops"]').wait_for()
        assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        shot(pages, phone, "flow-editor-phone")
        phone.locator('li[data-step="route"]').screenshot(path=str(ARTIFACTS / "flow-editor-phone-steps.png"))
