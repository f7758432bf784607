"""Every dashboard page renders for an admin, responders are kept to Alerts, fragments for HTMX, CSP."""
import pytest

from tests.conftest import csrf_from, login

HTMX = {"HX-Request": "true"}


@pytest.fixture
def cfg(app):
    from alerting import configurations as configs
    from extensions import db

    created = configs.create({"template": "webhook", "name": "Monitoring"})
    db.session.commit()
    return created


@pytest.fixture
def responder_client(app):
    from extensions import db
    from models import User

    user = User(username="rita", name="Rita Responder", role="responder")
    user.set_password("responder password")
    db.session.add(user)
    db.session.commit()
    client = app.test_client()
    assert login(client, "rita", "responder password").status_code == 302
    return client


def admin_pages(cfg):
    return ["/integrations", "/integrations/new?template=webhook", f"/integrations/{cfg.uuid}",
            f"/integrations/{cfg.uuid}/updates", f"/integrations/{cfg.uuid}/flows/", "/people", "/people/groups",
            "/deliveries"]


def test_every_page_renders_for_an_admin(admin_client, cfg):
    for url in admin_pages(cfg) + ["/alerts"]:
        response = admin_client.get(url)
        assert response.status_code == 200, url
        page = response.get_data(as_text=True)
        assert page.startswith("<!doctype html>") and "</html>" in page, url


def test_the_old_flows_address_opens_the_flow_list(admin_client, cfg):
    response = admin_client.get(f"/integrations/{cfg.uuid}/flows")
    assert response.status_code == 308 and response.headers["Location"].endswith(f"/integrations/{cfg.uuid}/flows/")
    assert "No flows yet" in admin_client.get(response.headers["Location"]).get_data(as_text=True)


def test_the_dashboard_root_opens_the_alerts(admin_client):
    response = admin_client.get("/")
    assert response.status_code == 302 and response.headers["Location"].endswith("/alerts")


def test_pages_send_a_content_security_policy_without_inline_script(admin_client, cfg):
    for url in admin_pages(cfg) + ["/alerts"]:
        response = admin_client.get(url)
        policy = response.headers["Content-Security-Policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy, url
        page = response.get_data(as_text=True)
        assert "<script>" not in page and " style=" not in page and " onclick=" not in page, url


def test_responders_get_403_on_admin_pages(responder_client, cfg):
    for url in admin_pages(cfg):
        assert responder_client.get(url).status_code == 403, url
    token = csrf_from(responder_client.get("/alerts").get_data(as_text=True))
    response = responder_client.post("/people/users", data={"username": "mallory", "csrf_token": token})
    assert response.status_code == 403


def test_responders_see_alerts_and_only_the_alerts_link(responder_client):
    page = responder_client.get("/alerts").get_data(as_text=True)
    assert 'href="/alerts"' in page
    for hidden in ('href="/integrations"', 'href="/people"', 'href="/deliveries"'):
        assert hidden not in page


def test_admins_see_every_link_in_the_nav_on_every_page(admin_client, cfg):
    for url in admin_pages(cfg) + ["/alerts"]:
        page = admin_client.get(url).get_data(as_text=True)
        nav = page[page.index('<nav class="nav">'):page.index("</nav>")]
        for link in ('href="/alerts"', 'href="/integrations"', 'href="/people"', 'href="/deliveries"'):
            assert link in nav, (url, link)


def test_htmx_requests_get_the_fragment_not_the_page(admin_client, cfg):
    fragments = {"/integrations?q=graf": 'id="tiles"', "/alerts": 'id="alert-results"',
                 "/alerts/rows": 'id="alert-rows"', "/deliveries": 'id="delivery-results"',
                 f"/integrations/{cfg.uuid}/updates": 'id="updates"'}
    for url, marker in fragments.items():
        fragment = admin_client.get(url, headers=HTMX).get_data(as_text=True)
        assert marker in fragment, url
        assert "<html" not in fragment and "topbar" not in fragment, url
        whole = admin_client.get(url).get_data(as_text=True)
        assert "<html" in whole and marker in whole, url


def test_the_template_filter_matches_words_in_any_case(admin_client):
    tiles = admin_client.get("/integrations?q=GRAF", headers=HTMX).get_data(as_text=True)
    assert 'value="grafana"' in tiles and 'value="webhook"' not in tiles
    nothing = admin_client.get("/integrations?q=zzz", headers=HTMX).get_data(as_text=True)
    assert "No template matches" in nothing and "zzz" in nothing


def test_the_template_page_lists_existing_configurations(admin_client, cfg):
    page = admin_client.get("/integrations").get_data(as_text=True)
    assert f'href="/integrations/{cfg.uuid}"' in page and "Monitoring" in page
    for title in ("Webhook", "Prometheus Alertmanager", "Grafana", "PagerDuty Events", "Custom"):
        assert title in page


def test_next_without_a_template_goes_back_to_the_tiles(admin_client):
    response = admin_client.get("/integrations/new")
    assert response.status_code == 302 and response.headers["Location"].endswith("/integrations")


def test_an_unknown_configuration_is_404(admin_client):
    assert admin_client.get("/integrations/00000000-0000-0000-0000-000000000000").status_code == 404
    assert admin_client.get("/alerts/999999").status_code == 404
    assert admin_client.get("/deliveries/999999").status_code == 404


def test_empty_pages_say_what_to_do_next(admin_client):
    assert "No alerts yet" in admin_client.get("/alerts").get_data(as_text=True)
    assert "No integrations yet" in admin_client.get("/integrations").get_data(as_text=True)
    assert "Nothing sent yet" in admin_client.get("/deliveries").get_data(as_text=True)
    assert "No groups yet" in admin_client.get("/people/groups").get_data(as_text=True)


def test_a_poll_after_signing_out_sends_the_tab_to_the_login_page(client, admin):
    response = client.get("/alerts/rows", headers=HTMX)
    assert response.status_code == 204 and response.headers["HX-Redirect"] == "/login"
    assert client.get("/alerts/rows").status_code == 302
