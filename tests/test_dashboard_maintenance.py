"""The Maintenance and Heartbeats pages: create a window with the form, the banner on every page while
it is active, end it now, delete it; a heartbeat's state, pings and curl line."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.conftest import csrf_from
from tests.support import integration_path


def local(delta_minutes: int) -> str:
    return (datetime.now(UTC) + timedelta(minutes=delta_minutes)).strftime("%Y-%m-%dT%H:%M")


def test_an_admin_creates_a_window_and_every_page_shows_the_banner(admin_client):
    page = admin_client.get("/maintenance")
    assert page.status_code == 200 and 'type="datetime-local"' in page.get_data(as_text=True)
    token = csrf_from(page.get_data(as_text=True))
    made = admin_client.post("/maintenance", data={"csrf_token": token, "name": "Kernel patching",
                                                  "start": local(-5), "end": local(60), "timezone": "UTC",
                                                  "scope": "all"})
    assert made.status_code == 302
    for path in ("/alerts", "/maintenance", "/people", "/heartbeats"):
        html = admin_client.get(path).get_data(as_text=True)
        assert "Kernel patching" in html and "banner-maintenance" in html, path
    from extensions import db
    from models import MaintenanceWindow

    window = db.session.query(MaintenanceWindow).one()
    assert admin_client.post(f"/maintenance/{window.id}/end", data={"csrf_token": token}).status_code == 302
    assert "banner-maintenance" not in admin_client.get("/alerts").get_data(as_text=True)
    assert admin_client.post(f"/maintenance/{window.id}/delete", data={"csrf_token": token}).status_code == 302
    assert db.session.query(MaintenanceWindow).count() == 0


def test_the_form_without_a_csrf_token_changes_nothing(admin_client):
    response = admin_client.post("/maintenance", data={"name": "x", "start": local(0), "end": local(5)})
    assert response.status_code == 400


def test_the_form_says_what_is_wrong(admin_client):
    token = csrf_from(admin_client.get("/maintenance").get_data(as_text=True))
    response = admin_client.post("/maintenance", data={"csrf_token": token, "name": "x", "start": local(5),
                                                       "end": local(0), "scope": "all"})
    assert response.status_code == 422 and "must be after start" in response.get_data(as_text=True).lower()


def test_signed_out_the_pages_ask_for_a_login(client):
    for path in ("/maintenance", "/heartbeats"):
        assert client.get(path).status_code == 302


def test_the_heartbeat_page_shows_state_pings_and_curl(api, admin_client, client):
    cfg = api.post("/api/v1/configurations", json={"template": "heartbeat", "name": "Backups"}).get_json()
    listed = admin_client.get("/heartbeats").get_data(as_text=True)
    assert "Backups" in listed and "badge-hb-never" in listed
    client.get(integration_path(cfg))
    detail = admin_client.get(f"/heartbeats/{cfg['uuid']}").get_data(as_text=True)
    assert "badge-hb-up" in detail and "recent-pings" in detail and "curl -fsS" in detail
    assert admin_client.get(f"/integrations/{cfg['uuid']}").get_data(as_text=True).count('id="intervalMinutes"') == 1
