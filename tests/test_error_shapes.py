"""Errors outside the dashboard (SPEC §2): machine URLs answer SPEC's JSON shape, a response link a
readable page, never a bare framework page; and the navigation names the parts as xMatters does (§6)."""
import pytest

from tests.support import add_user, hook, integration_path, make_config, notify_config, person, trigger


def is_spec_json(response, code):
    body = response.get_json(silent=True)
    return (response.status_code == code and response.mimetype == "application/json"
            and set(body) == {"code", "reason", "message"} and body["code"] == code and body["message"])


@pytest.mark.parametrize("method", ["get", "put", "delete", "patch"])
def test_a_wrong_method_on_the_integration_url_is_a_json_405(api, client, method):
    cfg = make_config(api)
    response = getattr(client, method)(integration_path(cfg))
    assert is_spec_json(response, 405), response.get_data(as_text=True)[:300]
    assert response.get_json()["reason"] == "Method Not Allowed"
    assert "POST" in response.headers.get("Allow", "")


@pytest.mark.parametrize("method, path, code", [
    ("get", "/v2/enqueue", 405),
    ("get", "/api/integration/1/functions/x/nothing", 404),
    ("post", "/api/v1/alerts/1/nothing", 404),
    ("put", "/api/v1/alerts", 405),
])
def test_other_machine_urls_answer_json_errors(client, method, path, code):
    response = getattr(client, method)(path)
    assert is_spec_json(response, code), response.get_data(as_text=True)[:300]


@pytest.fixture
def link(api, client, run_jobs, receiver):
    add_user(api, "bsmith", [hook(receiver, "Hook", "bob")])
    trigger(client, notify_config(api, [person("bsmith")]))
    run_jobs()
    receiver.wait_for(1, path="/bob")
    url = receiver.json_bodies(path="/bob")[0]["responses"][0]["url"]
    return "/respond/" + url.rsplit("/respond/", 1)[1]


def test_a_response_link_posted_without_the_csrf_token_gets_a_readable_page(client, link):
    response = client.post(link, data={"comment": "x"})
    assert response.status_code == 400 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "This link cannot be used" in page and "Open the link in the message again" in page
    assert "The CSRF token is missing" not in page and "<title>400 Bad Request</title>" not in page


def test_a_wrong_method_on_a_response_link_gets_a_readable_page(client, link):
    response = client.put(link)
    assert response.status_code == 405 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "This link cannot be used" in page and "<title>405 Method Not Allowed</title>" not in page


def test_the_navigation_has_a_workflows_tab_opening_on_workflow_templates(admin_client):
    page = admin_client.get("/integrations").get_data(as_text=True)
    assert '<a href="/integrations" class="active">Workflows</a>' in page
    assert ">Integrations</a>" not in page
    assert "<title>Workflow templates" in page and "<h1>Workflow templates</h1>" in page
