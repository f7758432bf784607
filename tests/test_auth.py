"""Sign-in, first-run setup, login on every dashboard page and CSRF on every form."""
import pytest

from tests.conftest import csrf_from, login


def dashboard_urls(app, methods=("GET",)):
    urls = []
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("dashboard.") or not set(methods) & rule.methods:
            continue
        values = {arg: 1 if rule._converters[arg].__class__.__name__ == "IntegerConverter" else "x"
                  for arg in rule.arguments}
        urls.append(rule.build(values, append_unknown=False)[1])
    return urls


def test_login_sends_to_setup_when_nobody_exists(client):
    response = client.get("/login")
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/setup")


def test_setup_creates_the_first_admin_once(client, app):
    from models import User

    token = csrf_from(client.get("/setup").get_data(as_text=True))
    response = client.post("/setup", data={"username": "bsmith", "name": "Bob", "password": "longenough1",
                                           "confirm": "longenough1", "csrf_token": token})
    assert response.status_code == 302
    user = User.query.filter_by(username="bsmith").one()
    assert user.role == "admin" and user.password_hash != "longenough1"
    assert client.get("/setup").status_code == 404


def test_setup_shows_field_errors_and_keeps_input(client):
    token = csrf_from(client.get("/setup").get_data(as_text=True))
    page = client.post("/setup", data={"username": "Bad Name", "name": "Keep Me", "password": "short",
                                       "confirm": "other", "csrf_token": token}).get_data(as_text=True)
    assert "Use lower-case letters" in page and "At least 8 characters." in page
    assert 'value="Keep Me"' in page


def test_it_rejects_a_wrong_password(client, admin):
    response = login(client, "admin", "wrong password")
    assert response.status_code == 401
    assert "Wrong username or password." in response.get_data(as_text=True)


def test_it_signs_in_and_ignores_an_offsite_next(client, admin):
    token = csrf_from(client.get("/login").get_data(as_text=True))
    response = client.post("/login?next=//evil.example/x", data={
        "username": "admin", "password": "correct horse battery", "csrf_token": token})
    assert response.status_code == 302
    assert "evil.example" not in response.headers["Location"]


def test_every_dashboard_page_redirects_an_anonymous_visitor(app, client, admin):
    urls = dashboard_urls(app)
    assert len(urls) >= 1
    for url in urls:
        response = client.get(url)
        assert response.status_code == 302, url
        assert "/login" in response.headers["Location"], url


def test_every_dashboard_form_refuses_a_post_without_csrf(app, admin_client):
    urls = dashboard_urls(app, methods=("POST",)) + ["/logout"]
    for url in urls:
        response = admin_client.post(url, data={"name": "x"})
        assert response.status_code == 400, url
        assert b"CSRF" in response.data, url


@pytest.mark.parametrize("path", ["/login", "/setup"])
def test_login_forms_refuse_a_post_without_csrf(client, path):
    response = client.post(path, data={"username": "a", "password": "b"})
    assert response.status_code in (400, 302)
    if response.status_code == 400:
        assert b"CSRF" in response.data
