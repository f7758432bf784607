"""At 390 px wide (a phone) every page fits without sideways scrolling; a responder sees only Alerts."""
import pytest
import requests

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def server(module_server):
    """One server for the module: its people and configuration are made once (``configuration``), and
    each test raises an alert of its own (the responder suspends hers)."""
    return module_server


@pytest.fixture(scope="module")
def configuration(module_server):
    return seed(module_server)


def seed(server):
    """A configuration with a recipient, made through the REST API."""
    token = server.create_token("browser-tests")
    api = requests.Session()
    api.headers["Authorization"] = f"Bearer {token}"
    assert api.post(server.url + "/api/v1/users", json={"username": "rita", "name": "Rita Responder",
                    "role": "responder", "password": "responder password"}).status_code == 201
    assert api.post(server.url + "/api/v1/groups", json={"name": "Database Team", "members": ["rita"],
                    "mode": "escalate-in-order", "escalationDelayMinutes": 5}).status_code == 201
    cfg = api.post(server.url + "/api/v1/configurations", json={
        "template": "webhook", "name": "Production monitoring with a long name", "priority": "HIGH",
        "recipients": [{"id": "rita", "recipientType": "PERSON"}],
        "responseOptions": [{"text": "Acknowledge", "action": "STOP_NOTIFYING_USER"},
                            {"text": "Resolve", "action": "END", "description": "Close the alert"}]}).json()
    return cfg


def raise_alert(cfg):
    """An alert through the configuration's integration URL: its event identifier."""
    sent = requests.post(cfg["integrationUrl"], json={
        "subject": "Disk full on db-1.production.example.com", "message": "Free space fell below 5%",
        "properties": {"Host": "db-1.production.example.com", "Mount": "/var/lib/postgresql"}})
    assert sent.status_code == 202, sent.text
    return sent.json()["eventIdentifier"]


def fits(page):
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_pages_fit_a_phone(pages, server, configuration, sign_in):
    cfg, event_id = configuration, raise_alert(configuration)
    page = pages.open(width=390, height=844)
    sign_in(page)
    for name, path in (("mobile-alerts", "/alerts"), ("mobile-alert", f"/alerts/{event_id}"),
                       ("mobile-templates", "/integrations"), ("mobile-configuration", f"/integrations/{cfg['uuid']}"),
                       ("mobile-updates", f"/integrations/{cfg['uuid']}/updates"), ("mobile-people", "/people"),
                       ("mobile-groups", "/people/groups"),
                       ("mobile-deliveries", "/deliveries")):
        page.goto(path)
        pages.shot(page, name)
        assert fits(page), f"{path} scrolls sideways at 390 px"


def test_a_responder_sees_alerts_but_not_the_admin_pages(pages, server, configuration, sign_in):
    event_id = raise_alert(configuration)
    page = pages.open()
    sign_in(page, "rita", "responder password")
    assert page.locator(".nav a").all_inner_texts() == ["Alerts"]
    page.goto(f"/alerts/{event_id}")
    page.click("button:has-text('Suspend')")
    page.locator("#alert .badge-SUSPENDED").wait_for()
    response = page.goto("/people")
    assert response.status == 403 and "Admins only" in page.text_content("main")
    # Chromium logs the 403 document itself as a failed load; that one is expected
    pages.errors[:] = [e for e in pages.errors if "status of 403" not in e]
