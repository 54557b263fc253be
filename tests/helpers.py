"""Plain helper functions for tests: waiting for the worker, a browser page logged in, screenshots.

Test modules import helpers from here (or get fixtures from a conftest), never from one another."""

import os
import time
from pathlib import Path

from django.conf import settings
from django.test import Client

from agents.models import Run

SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR") or Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots")


def wait_until(condition, timeout: float = 60, interval: float = 0.2, message: str = "condition"):
    """Call `condition` until it returns something true, and return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {message}")


def wait_for_runs(agent, count: int = 1, timeout: float = 60) -> list[Run]:
    """The agent's runs, in order, once there are `count` of them and all have finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = list(Run.objects.filter(agent=agent).order_by("id"))
        if len(runs) >= count and all(r.status in (Run.Status.COMPLETED, Run.Status.FAILED) for r in runs):
            return runs
        time.sleep(0.05)
    raise AssertionError(f"runs did not finish: {[(r.pk, r.status) for r in Run.objects.filter(agent=agent)]}")


def log_in(page, user) -> None:
    """Log a Playwright page in with a session made here (the live server shares the database and
    SECRET_KEY), then open the home page."""
    client = Client()
    client.force_login(user)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME].value
    page.context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": page.live_url}])
    page.goto("/")


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path
