"""The configuration screen shows the integration URL, sample payload and curl command whole: no word
broken mid-way, no field cut off, no scrolling box inside the card; Copy copies (issue 19, item 9)."""
import pytest
import requests

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_the_connect_card_shows_everything_whole_and_copy_works(pages, server, sign_in):
    token = server.create_token("browser")
    made = requests.post(server.url + "/api/v1/configurations", timeout=10,
                         headers={"Authorization": f"Bearer {token}"},
                         json={"template": "webhook", "name": "Production monitoring", "priority": "MEDIUM"})
    assert made.status_code == 201, made.text
    page = pages.open()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    sign_in(page)
    page.goto(f"/integrations/{made.json()['uuid']}")
    for box in ("#integration-url", "#sample-payload", "#curl-command"):
        fits = page.evaluate(f"""() => {{ const el = document.querySelector('{box}');
            return [el.scrollHeight <= el.clientHeight + 1, el.scrollWidth <= el.clientWidth + 1]; }}""")
        assert fits == [True, True], f"{box} scrolls inside itself or is cut off"
    for box in ("#sample-payload", "#curl-command"):
        assert page.evaluate(f"getComputedStyle(document.querySelector('{box}')).wordBreak") != "break-all"
    page.click("[data-copy=integration-url]")
    page.locator("[data-copy=integration-url]:has-text('Copied')").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == made.json()["integrationUrl"]
    pages.shot(page, "configuration-connect")
