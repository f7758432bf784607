"""Playwright (sync API) driving Debian's Chromium against a real `klaxon serve`.

Every page opened through ``pages.open()`` fails the test on a console error or an uncaught
exception. With KLAXON_TEST_SCREENSHOTS=1 the tests' screenshots go to tests/artifacts/ (git-ignored);
without it they are not taken (a full-page PNG costs Chromium ~0.3 s of CPU: ~16 CPU-s a run).
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
ADMIN = ("admin", "correct horse battery")
SCREENSHOTS = os.environ.get("KLAXON_TEST_SCREENSHOTS") == "1"


@pytest.fixture(scope="session")
def chromium():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium package to run the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync"])
        yield browser
        browser.close()


class Pages:
    """Opens pages that record console errors, and saves screenshots under tests/artifacts/."""

    def __init__(self, browser, base_url: str):
        self.browser, self.base_url, self.errors, self.contexts = browser, base_url, [], []
        ARTIFACTS.mkdir(parents=True, exist_ok=True)

    def open(self, width=1280, height=900):
        context = self.browser.new_context(base_url=self.base_url, viewport={"width": width, "height": height})
        context.set_default_timeout(15_000)
        self.contexts.append(context)
        page = context.new_page()
        page.on("console", lambda msg: msg.type == "error" and self.errors.append(f"console: {msg.text}"))
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        return page

    def shot(self, page, name: str, full_page: bool = True) -> Path:
        """A screenshot at tests/artifacts/<name>.png, taken only with KLAXON_TEST_SCREENSHOTS=1."""
        path = ARTIFACTS / f"{name}.png"
        if SCREENSHOTS:
            page.screenshot(path=str(path), full_page=full_page)
        return path

    def close(self):
        for context in self.contexts:
            context.close()


@pytest.fixture
def server(live_klaxon):
    """A live `klaxon serve` (one RQ worker: no browser test needs two) with an admin, written into its
    database as `klaxon create-admin` makes one (the command has its own tests, in tests/test_serve.py)."""
    started = live_klaxon(workers=1)
    started.create_admin(ADMIN[0], ADMIN[1], "Ada Admin")
    return started


@pytest.fixture(scope="module")
def module_server(request, tmp_path_factory, live_database, template_database):
    """What ``server`` gives, one for a whole module (tests/reliability/shared_serve.py): a module whose
    tests' rows cannot collide overrides ``server`` with this (``def server(module_server)``)."""
    from tests.reliability.shared_serve import shared_serve

    serves = shared_serve(request, tmp_path_factory, live_database, template_database)
    try:
        started = next(serves)(workers=1).server
        started.create_admin(ADMIN[0], ADMIN[1], "Ada Admin")
        yield started
    finally:
        serves.close()  # stops the server


@pytest.fixture
def pages(chromium, server):
    opened = Pages(chromium, server.url)
    yield opened
    opened.close()
    assert opened.errors == [], "the browser reported errors:\n" + "\n".join(opened.errors)


@pytest.fixture
def sign_in():
    """sign_in(page): through the real login form, landing on Alerts."""
    def sign_in(page, username=ADMIN[0], password=ADMIN[1]):
        page.goto("/login")
        page.fill("#username", username)
        page.fill("#password", password)
        page.click("button[type=submit]")
        page.wait_for_url("**/alerts")
    return sign_in
