"""Headless Debian Chromium driven by Playwright (never a browser Playwright downloads)."""

import os
import shutil

import pytest

# Playwright's sync API runs an event loop in the test's thread; the ORM calls of the test itself are safe
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]


@pytest.fixture(scope="module")
def chromium():
    """Per module: Playwright's sync API keeps an event loop in this thread while it runs, and later
    tests that use async_to_sync in the main thread must not find it there."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, live):
    context = chromium.new_context(base_url=live.url, viewport={"width": 1400, "height": 900})
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.live_url = live.url
    page.dialogs = []
    page.accept_dialogs = False  # a test that answers a confirm with OK sets it
    page.on("dialog", lambda dialog: (page.dialogs.append(dialog.message),
                                      dialog.accept() if page.accept_dialogs else dialog.dismiss()))
    yield page
    context.close()
