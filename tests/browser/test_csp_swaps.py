"""HTMX swaps raise no CSP violation, and the indicator styles come from klaxon.css (issue 19, item 12).

The ``pages`` fixture fails the test on any console error, a CSP report included; this test also
listens for securitypolicyviolation events in the page itself, so a violation cannot pass unseen.
"""
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]
LISTEN = """window.__violations = [];
document.addEventListener('securitypolicyviolation', e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));"""


def test_swaps_on_the_people_and_configuration_pages_violate_no_policy(pages, sign_in):
    page = pages.open()
    page.add_init_script(LISTEN)
    sign_in(page)
    page.goto("/people")
    page.fill("#username", "csp-user")
    page.click("#add-user button[type=submit]")  # an HTMX swap
    page.locator("#user-csp-user").wait_for()
    card = page.locator("#user-csp-user")
    card.locator("input[name=name]").fill("Mail")
    card.locator("select[name=kind]").select_option("email")
    card.locator("input[name=target]").fill("csp@corp.local")
    card.locator("button:has-text('Add device')").click()  # another swap
    page.locator("#user-csp-user .device:has-text('Mail')").wait_for()
    assert page.evaluate("window.__violations") == []
    assert page.evaluate("document.querySelectorAll('style').length") == 0  # htmx injected no <style>
    opacity = page.evaluate("""() => { const el = document.createElement('span'); el.className = 'htmx-indicator';
        document.body.appendChild(el); return getComputedStyle(el).opacity; }""")
    assert opacity == "0", "the htmx indicator styles are missing from klaxon.css"
    pages.shot(page, "csp-swaps")
