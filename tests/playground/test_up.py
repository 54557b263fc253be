"""`manage.py up` as a person runs it: a subprocess on a free port with its own data directory."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.helpers import wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_dir():
    """A data directory outside pytest's own temporary directory: the embedded PostgreSQL runs as
    another user, who must pass through its parents, and every pytest session that starts makes
    /tmp/pytest-of-<user> private again."""
    base = Path(tempfile.mkdtemp(prefix="playground-up-"))
    yield base / "data"
    shutil.rmtree(base, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE")}
    env.update(PLAYGROUND_DATA_DIR=str(data_dir), PYTHONUNBUFFERED="1", WORKER_CONCURRENCY="2")
    return env


class Up:
    def __init__(self, data_dir: Path):
        self.data_dir, self.port = data_dir, free_port()
        self.log = data_dir.parent / f"up-{self.port}.log"
        self.process = subprocess.Popen(
            [sys.executable, "manage.py", "up", "--port", str(self.port)], cwd=ROOT, env=environment(data_dir),
            stdout=self.log.open("w"), stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log.read_text()

    def health(self) -> tuple[int, dict]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=10) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def wait_healthy(self, timeout: float = 180) -> dict:
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"up exited early:\n{self.output()}"
            try:
                status, last = self.health()
                if status == 200:
                    return last
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.5)
        pytest.fail(f"/healthz never turned green (last: {last}):\n{self.output()}")

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=90)


def manage(data_dir: Path, code: str) -> str:
    result = subprocess.run([sys.executable, "manage.py", "shell", "--no-imports", "-c", code], cwd=ROOT, env=environment(data_dir),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def processes_using(data_dir: Path, socket_dir: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if str(data_dir) in cmdline or str(socket_dir) in cmdline:
            found.append(process)
    return found


def test_up_serves_turns_green_stops_cleanly_and_keeps_data(data_dir):
    from playground.embedded import Embedded

    socket_dir = Embedded(data_dir.resolve()).socket_dir

    first = Up(data_dir)
    try:
        health = first.wait_healthy()
        assert health == {"status": "ok"}  # anonymous: no details (staff see each service)
        children = psutil.Process(first.process.pid).children(recursive=True)
        assert len(children) >= 2  # the worker and daphne
        manage(data_dir, "from django.contrib.auth.models import User; User.objects.create_user('kept')")
    finally:
        code = first.terminate()
    assert code == 0, first.output()
    assert "created user 'admin' with password" in first.output()
    assert (data_dir / "admin_password").read_text().startswith("admin ")
    time.sleep(0.5)
    assert [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE] == []
    assert processes_using(data_dir, socket_dir) == []  # embedded postgres and redis stopped too

    second = Up(data_dir)
    try:
        second.wait_healthy()
        names = manage(data_dir, "from django.contrib.auth.models import User; print(sorted(User.objects.values_list('username', flat=True)))")
    finally:
        # the shell above started nothing new: up owns the services and stops them
        assert second.terminate() == 0, second.output()
    assert names == "['admin', 'kept']"
    assert "created user 'admin'" not in second.output()  # the password is printed once only
    assert processes_using(data_dir, socket_dir) == []


def test_a_process_that_keeps_dying_at_once_waits_longer_each_time_and_briefly_after_a_steady_run():
    from playground.management.commands.up import MAX_DELAY, STEADY_SECONDS, Child

    child = Child(command=[])
    assert [child.died(now=child.started + 0.5) for _ in range(7)] == [1, 2, 4, 8, 16, MAX_DELAY, MAX_DELAY]
    child.started = 1000.0  # started again, and it ran a while
    assert child.died(now=child.started + STEADY_SECONDS) == 1
    child.started = 2000.0
    assert child.died(now=child.started + 0.5) == 2


def child_pid(up: Up, module: str) -> int | None:
    """The pid of up's child running `python -m <module>`, if one is alive."""
    for process in psutil.Process(up.process.pid).children():
        try:
            if f"-m {module}" in " ".join(process.cmdline()) and process.status() != psutil.STATUS_ZOMBIE:
                return process.pid
        except psutil.NoSuchProcess:
            pass
    return None


def started_again(up: Up, module: str, old: int) -> int:
    return wait_until(lambda: (pid := child_pid(up, module)) not in (None, old) and pid, timeout=30,
                      message=f"a new {module} process:\n{up.output()}")


def test_up_starts_a_killed_worker_or_web_process_again(data_dir):
    from playground.embedded import Embedded

    up = Up(data_dir)
    try:
        up.wait_healthy()
        worker, web = child_pid(up, "celery"), child_pid(up, "daphne")
        os.kill(worker, signal.SIGKILL)
        os.kill(web, signal.SIGKILL)
        worker = started_again(up, "celery", worker)
        started_again(up, "daphne", web)
        # killed again before it could even start: the next start waits twice as long, not a tight loop
        os.kill(worker, signal.SIGKILL)
        started_again(up, "celery", worker)
        assert manage(data_dir, "from playground.tasks import ping; print(ping.delay().get(timeout=60))") == "pong"
        assert up.wait_healthy(timeout=60) == {"status": "ok"}
    finally:
        code = up.terminate()
    output = up.output()
    assert code == 0, output
    assert "worker exited with -9 after" in output and "web exited with -9 after" in output
    assert output.count("starting it again in 1 s") == 2 and output.count("starting it again in 2 s") == 1, output
    assert processes_using(data_dir, Embedded(data_dir.resolve()).socket_dir) == []  # Ctrl-C still stops all
