"""`manage.py up` as a person runs it: a subprocess on a free port with its own data directory."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest

from tests.helpers import environment, free_port, manage, private_data_dir, wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def data_dir():
    with private_data_dir() as path:
        yield path


def shell(data_dir: Path, code: str) -> str:
    return manage(data_dir, "shell", "--no-imports", "-c", code)


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


def processes_using(data_dir: Path, socket_dir: Path) -> list[psutil.Process]:
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(process.info["cmdline"] or [])
        if str(data_dir) in cmdline or str(socket_dir) in cmdline:
            found.append(process)
    return found


def child_pid(up: Up, module: str) -> int | None:
    """The pid of up's child running `python -m <module>`, if one is alive."""
    for process in psutil.Process(up.process.pid).children():
        try:
            if f"-m {module}" in " ".join(process.cmdline()) and process.status() != psutil.STATUS_ZOMBIE:
                return process.pid
        except psutil.NoSuchProcess:
            pass
    return None


WORKER, BEAT = "celery -A playground worker", "celery -A playground beat"  # both are `python -m celery`


def started_again(up: Up, module: str, old: int) -> int:
    return wait_until(lambda: (pid := child_pid(up, module)) not in (None, old) and pid, timeout=30,
                      message=f"a new {module} process:\n{up.output()}")


def test_up_serves_turns_green_stops_cleanly_keeps_data_and_starts_whatever_stopped_again(data_dir):
    """One data directory, two runs of `up` (its first start makes the database: half a minute)."""
    from playground.embedded import Embedded

    servers = Embedded(data_dir.resolve())
    first = Up(data_dir)
    try:
        health = first.wait_healthy()
        assert health == {"status": "ok"}  # anonymous: no details (staff see each service)
        children = psutil.Process(first.process.pid).children(recursive=True)
        assert len(children) >= 2  # the worker and daphne
        shell(data_dir, "from django.contrib.auth.models import User; User.objects.create_user('kept')")
    finally:
        code = first.terminate()
    assert code == 0, first.output()
    assert "created user 'admin' with password" in first.output()
    assert (data_dir / "admin_password").read_text().startswith("admin ")
    time.sleep(0.5)
    assert [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE] == []
    assert processes_using(data_dir, servers.socket_dir) == []  # embedded postgres and redis stopped too

    up = Up(data_dir)
    try:
        up.wait_healthy()
        # the shell started nothing new: up owns the services and stops them
        names = shell(data_dir, "from django.contrib.auth.models import User; print(sorted(User.objects.values_list('username', flat=True)))")
        assert names == "['admin', 'kept']"

        worker, web = child_pid(up, WORKER), child_pid(up, "daphne")
        os.kill(int((servers.redis_dir / "redis.pid").read_text()), signal.SIGKILL)
        wait_until(lambda: "embedded redis started again" in up.output(), timeout=30, message=up.output())
        # a crash, as `pg_ctl stop -m immediate` makes one (without its wait, which up's restart would
        # keep from ending): no checkpoint, every session cut
        os.kill(int((servers.pgdata / "postmaster.pid").read_text().split()[0]), signal.SIGQUIT)
        wait_until(lambda: "embedded postgres started again" in up.output(), timeout=30, message=up.output())
        assert up.wait_healthy(timeout=60) == {"status": "ok"}  # the same web and worker, reconnected
        assert (child_pid(up, WORKER), child_pid(up, "daphne")) == (worker, web)

        beat = child_pid(up, BEAT)
        os.kill(worker, signal.SIGKILL)
        os.kill(web, signal.SIGKILL)
        os.kill(beat, signal.SIGKILL)
        worker = started_again(up, WORKER, worker)
        started_again(up, "daphne", web)
        started_again(up, BEAT, beat)
        # killed again before it could even start: the next start waits twice as long, not a tight loop
        os.kill(worker, signal.SIGKILL)
        started_again(up, WORKER, worker)
        assert shell(data_dir, "from playground.health import worker_answers; print(worker_answers(60))") == "True"
        assert up.wait_healthy(timeout=60) == {"status": "ok"}
    finally:
        code = up.terminate()
    output = up.output()
    assert code == 0, output
    assert "created user 'admin'" not in output  # the password is printed once only
    assert "embedded redis stopped; starting it again" in output and "embedded postgres stopped; starting it again" in output
    assert "worker exited with -9 after" in output and "web exited with -9 after" in output
    assert "beat exited with -9 after" in output and "wake-ups: this beat sends them" in output
    assert output.count("starting it again in 1 s") == 3 and output.count("starting it again in 2 s") == 1, output
    assert processes_using(data_dir, servers.socket_dir) == []  # Ctrl-C still stops all, as up started them


def test_a_process_that_keeps_dying_at_once_waits_longer_each_time_and_briefly_after_a_steady_run():
    from playground.management.commands.up import MAX_DELAY, STEADY_SECONDS, Child

    child = Child(command=[])
    assert [child.died(now=child.started + 0.5) for _ in range(7)] == [1, 2, 4, 8, 16, MAX_DELAY, MAX_DELAY]
    child.started = 1000.0  # started again, and it ran a while
    assert child.died(now=child.started + STEADY_SECONDS) == 1
    child.started = 2000.0
    assert child.died(now=child.started + 0.5) == 2
