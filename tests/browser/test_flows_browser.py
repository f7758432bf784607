"""The Flows tab in a real browser against a real `klaxon serve`: an admin writes a two-step flow,
sees it drawn, runs it with the sample alert and on a real alert, and reads each run step by step."""
import json
import re

import pytest

from bench.harness import api_setup
from tests.support import Receiver, wait_until

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def two_steps(url):
    return [{"name": "ticket", "type": "http_request", "method": "POST", "url": url,
             "headers": {"Content-Type": "application/json"}, "body": "{\"title\": {{ alert.subject | tojson }}}"},
            {"name": "note", "type": "update_alert", "action": "comment",
             "comment": "Ticket {{ steps.ticket.json.ticket }}"}]


def write_the_flow(page, pages, flows_url, ticket_url):
    page.goto(flows_url)
    page.click("#new-flow")
    page.wait_for_url("**/flows/new")
    page.fill("#name", "Open a ticket")
    page.select_option("#triggerType", "alert.created")
    page.click('#flow-form button[value="view:json"]')  # the Advanced tab: steps as JSON
    page.locator("#steps").wait_for()
    page.fill("#steps", json.dumps(two_steps(ticket_url), indent=2))
    page.click("#save-flow")
    page.wait_for_url(re.compile(r"/flows/\d+$"))
    for step in ("When", "ticket", "note"):
        assert page.locator(f'#diagram g[data-step="{step}"]').count() == 1
    return page.url


def test_an_admin_writes_a_flow_and_watches_it_run(server, pages, sign_in):
    api = api_setup(server)
    config = api.post(server.url + "/api/v1/configurations", json={"name": "Monitoring"}, timeout=10).json()
    with Receiver([(201, {"Content-Type": "application/json"}, {"ticket": "T-42"})]) as tickets:
        page = pages.open()
        sign_in(page)
        flow_url = write_the_flow(page, pages, f"/integrations/{config['uuid']}/flows/", tickets.url + "/tickets")

        page.click("#run-sample")
        # the runs section polls while the run waits for a worker
        page.locator("#runs .run-row .badge-succeeded").wait_for(timeout=30_000)
        ticket = page.locator('#runs .step-row[data-step="ticket"]')
        assert "T-42" in ticket.text_content() and ticket.locator(".badge-succeeded").count() == 1
        assert page.locator('#runs .step-row[data-step="note"] .badge-skipped').count() == 1  # sample: only shown
        assert json.loads(tickets.wait_for(1, path="/tickets")[0]["body"]) == {"title": "Disk full on db-1"}

        alert = api.post(config["integrationUrl"], json={"subject": "Disk full on db-2"}, timeout=10).json()

        def two_runs():
            page.reload()
            return page.locator("#runs .run-row .badge-succeeded").count() == 2
        wait_until(two_runs, timeout=30, interval=0.5, message="the run of the real alert")
        assert page.locator('#runs .step-row[data-step="note"] .badge-succeeded').count() == 1
        assert f"alert #{alert['eventIdentifier']}" in page.text_content("#runs .run-row")
        pages.shot(page, "flows")
        detail = api.get(f"{server.url}/api/v1/alerts/{alert['alertId']}", timeout=10).json()
        assert any(t["type"] == "EVENT_ANNOTATED" and t["detail"].get("comment") == "Ticket T-42"
                   for t in detail["timeline"])
        page.goto(flow_url.rsplit("/", 1)[0] + "/")
        assert page.locator("#flows tbody tr").count() == 1 and "Open a ticket" in page.text_content("#flows")
