"""An anonymous visitor crawling every route of Flask's URL map, every method, with real ids in
the URLs: the dashboard sends them to the login page, the REST API and /metrics answer 401; only the
public routes answer, and nothing changes."""
from tests.conftest import csrf_from

PUBLIC = {"inbound.trigger", "inbound.ping", "pagerduty.enqueue", "respond.confirm", "respond.record", "health.healthz",
          "health.readyz", "auth.login", "auth.setup", "static", "api.openapi", "calendar.feed"}


def test_an_anonymous_crawl_meets_only_the_login_page_and_401s(app, routes, fingerprint, figures):
    anonymous = app.test_client()
    # a valid CSRF token of an anonymous session: the refusal must come from the login check
    token = csrf_from(anonymous.get("/login").get_data(as_text=True))
    before, wrong, checked = fingerprint(), [], 0
    for endpoint, method, url in routes:
        if endpoint in PUBLIC:
            continue
        response = anonymous.open(url, method=method, data={"csrf_token": token}, headers={"X-CSRFToken": token})
        checked += 1
        if endpoint.startswith(("api.", "xm.")) or endpoint == "health.metrics":  # xm: the xMatters REST subset
            ok = response.status_code == 401 and response.get_json()["code"] == 401
        else:
            ok = response.status_code == 302 and response.location.split("?")[0].endswith("/login")
        if not ok:
            wrong.append(f"{method} {url} ({endpoint}) -> {response.status_code} {response.location or ''}")
    assert not wrong, "reachable without signing in:\n" + "\n".join(wrong)
    assert fingerprint() == before, "an anonymous request changed something"
    assert checked > 50, f"only {checked} protected routes crawled"
    figures.update(routes=len(routes), protected_checked=checked, public=len(PUBLIC))

