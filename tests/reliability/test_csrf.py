"""CSRF on every form: a signed-in admin's POST to any route of a non-exempt blueprint is refused
without the token (and changes nothing), accepted past the CSRF check with it, and every form
the dashboard renders carries the token."""
import re
from html.parser import HTMLParser

from blueprints import BLUEPRINTS
from tests.conftest import csrf_from

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


def exempt_blueprints():
    return {bp.name for bp, is_exempt in BLUEPRINTS() if is_exempt}


def refused_for_csrf(response):
    return response.status_code == 400 and "CSRF" in response.get_data(as_text=True)


def test_every_form_route_refuses_a_post_without_the_token(routes, fingerprint, app_errors, admin_client, figures):
    exempt = exempt_blueprints()
    token = csrf_from(admin_client.get("/alerts").get_data(as_text=True))
    unguarded, checked = [], 0
    for endpoint, method, url in sorted(routes, key=lambda r: r[0] == "auth.logout"):  # signing out last
        if method not in UNSAFE or endpoint.split(".")[0] in exempt or endpoint == "static":
            continue
        before = fingerprint()
        without = admin_client.open(url, method=method, data={"comment": "csrf probe", "status": "SUSPENDED"})
        if not refused_for_csrf(without) or fingerprint() != before:
            unguarded.append(f"{method} {url} ({endpoint}) -> {without.status_code} without a token")
        with_token = admin_client.open(url, method=method, data={"csrf_token": token}, headers={"X-CSRFToken": token})
        if refused_for_csrf(with_token):
            unguarded.append(f"{method} {url} ({endpoint}) refuses even a valid token: the check proves nothing")
        checked += 1
    assert not unguarded, "\n".join(unguarded)
    assert checked > 20, f"only {checked} form routes checked"
    figures.update(form_routes_checked=checked, exempt_blueprints=sorted(exempt))


class Forms(HTMLParser):
    """Collects each <form method=post> and whether a csrf_token input sits inside it."""

    def __init__(self):
        super().__init__()
        self.forms, self.open = [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form" and (attrs.get("method") or "").lower() == "post":
            self.open = {"action": attrs.get("action"), "token": None}
            self.forms.append(self.open)
        elif tag == "input" and self.open is not None and attrs.get("name") == "csrf_token":
            self.open["token"] = attrs.get("value")

    def handle_endtag(self, tag):
        if tag == "form":
            self.open = None


def test_every_rendered_form_carries_the_token(routes, seeded, app_errors, admin_client):
    token = csrf_from(admin_client.get("/alerts").get_data(as_text=True))
    pages = [url for endpoint, method, url in routes
             if method == "GET" and endpoint.startswith("dashboard.") and "/rows" not in url]
    missing, forms = [], 0
    for url in pages + [seeded["link_path"]]:
        response = admin_client.get(url)
        if response.status_code != 200:  # redirects, and fragments that need HTMX (test_admin_crawl)
            continue
        html = response.get_data(as_text=True)
        parser = Forms()
        parser.feed(html)
        for form in parser.forms:
            forms += 1
            if form["token"] != token:
                missing.append(f"{url}: form to {form['action']} has token {form['token']!r}")
        if re.search(r"hx-(post|put|patch|delete)=", html):
            assert f'"X-CSRFToken": "{token}"' in html, f"{url}: htmx requests would go without the token"
    assert not missing, "\n".join(missing)
    assert forms > 10, f"only {forms} forms found"
