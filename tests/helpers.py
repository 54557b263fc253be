"""Plain helper functions for tests: waiting for the worker, a browser page logged in, screenshots,
a private data directory and `manage.py` run in it.

Test modules import helpers from here (or get fixtures from a conftest), never from one another."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.test import Client

from agents.models import Run

ROOT = Path(__file__).resolve().parents[1]
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR") or ROOT / "test-artifacts" / "screenshots")


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


def open_agent(page, agent) -> None:
    """Open an agent's page and wait until its socket is open: events of a turn sent before would
    not reach it."""
    page.goto(f"/agents/{agent.pk}/")
    page.wait_for_selector("body[data-live=on]")


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


@contextmanager
def private_data_dir() -> Iterator[Path]:
    """A data directory of its own (its embedded PostgreSQL and Redis are a test's alone), outside
    pytest's temporary directory: the embedded PostgreSQL runs as another user, who must pass through
    its parents, and every pytest session that starts makes /tmp/pytest-of-<user> private again."""
    base = Path(tempfile.mkdtemp(prefix="playground-test-"))
    try:
        yield base / "data"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(data_dir: Path) -> dict[str, str]:
    """The environment of a process of the playground on `data_dir` and its embedded servers."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(PLAYGROUND_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1", WORKER_CONCURRENCY="2")
    return env


def manage(data_dir: Path, *args: str) -> str:
    """Run `manage.py ARGS` on `data_dir` and return what it printed."""
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=environment(data_dir),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()
