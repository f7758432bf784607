"""A signed-in admin opening every dashboard page and sending every dashboard form (with a valid
CSRF token and an incomplete body), each as a plain browser request and as an HTMX one, with
real ids in the URLs: never a server error; a page asked for without JavaScript included."""
from tests.conftest import csrf_from


def test_no_dashboard_page_or_form_gives_an_admin_a_server_error(routes, app_errors, admin_client, figures):
    token = csrf_from(admin_client.get("/alerts").get_data(as_text=True))
    gets = [(m, url) for endpoint, m, url in routes if endpoint.startswith("dashboard.") and m == "GET"]
    posts = [(m, url) for endpoint, m, url in routes if endpoint.startswith("dashboard.") and m != "GET"]
    failed = []
    for method, url in gets + posts:  # the forms last: some delete what the pages show
        for htmx in (False, True):
            headers = {"X-CSRFToken": token, **({"HX-Request": "true"} if htmx else {})}
            response = admin_client.open(url, method=method, headers=headers,
                                         data={"csrf_token": token, "name": "incomplete"} if method != "GET" else None)
            if response.status_code >= 500:
                failed.append(f"{method} {url} {'(htmx)' if htmx else '(no JavaScript)'} -> {response.status_code}")
    figures.update(pages=len(gets), forms=len(posts), requests=2 * (len(gets) + len(posts)), server_errors=len(failed))
    assert not failed, "\n".join(failed)
