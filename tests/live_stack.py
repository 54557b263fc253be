"""The playground's web and worker processes, started the way `manage.py up` starts them, for tests
and benchmarks: daphne and a Celery worker as subprocesses on a given database and queue."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent


class LiveStack:
    def __init__(self, *, llm_url: str, database: str, queue: str, channels_prefix: str, logs: Path,
                 concurrency: int = 4, extra_env: dict[str, str] | None = None, data_dir: Path | None = None):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.logs = logs
        logs.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ, "DJANGO_SETTINGS_MODULE": "playground.settings", "PYTHONUNBUFFERED": "1",
            "PLAYGROUND_DATA_DIR": str(data_dir or settings.DATA_DIR), "DATABASE_NAME": database, "CELERY_QUEUE": queue,
            "CHANNELS_PREFIX": channels_prefix, "OPENAI_BASE_URL": llm_url, "OPENAI_API_KEY": "test-key",
            "LLM_MODEL": "gpt-4o-mini", "LLM_MAX_RETRIES": "1", "SECRET_KEY": settings.SECRET_KEY,
            "WORKER_CONCURRENCY": str(concurrency),
            # the worker sweeps stranded runs as it starts (what a test of a killed worker needs), and
            # not again: a sweep at a random moment would change runs that other tests set up
            "RUNS_SWEEP_SECONDS": "86400",
            **(extra_env or {}),
        }
        self.queue, self.env = queue, env
        self.commands = {
            "web": [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "playground.asgi:application"],
            "worker": [sys.executable, "-m", "celery", "-A", "playground", "worker", "--pool", "threads",
                       "--concurrency", str(concurrency), "-Q", queue, "--without-gossip", "--without-mingle",
                       "-n", f"live-{os.getpid()}-{self.port}@%h", "--loglevel", "WARNING"],
        }
        self.processes = {name: self._start(name, "w") for name in self.commands}
        try:
            self.wait_ready()
        except BaseException:  # one of them died at start: the other must not outlive the test session
            self.stop()
            raise

    def _start(self, name: str, mode: str) -> subprocess.Popen:
        return subprocess.Popen(self.commands[name], cwd=ROOT, env=self.env, stdout=(self.logs / f"{name}.log").open(mode),
                                stderr=subprocess.STDOUT)

    def kill(self, name: str) -> None:
        """SIGKILL one of the processes, as the kernel's OOM killer would: it cleans up nothing."""
        self.processes[name].kill()
        self.processes[name].wait()

    def restart(self, name: str) -> None:
        """Start a process that died again (its log goes on), and wait until the stack answers: for the
        worker, until it answers a task (/healthz keeps the worker's state for a few seconds)."""
        assert self.processes[name].poll() is not None, f"{name} is still running"
        self.processes[name] = self._start(name, "a")
        self.wait_ready()
        if name == "worker":
            self.wait_worker()

    def wait_worker(self, timeout: float = 60) -> None:
        from playground.health import worker_answers

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.processes["worker"].poll() is None, (self.logs / "worker.log").read_text()
            # short waits: a worker starts consuming a moment after its process starts, and a test
            # that kills it 20 times pays each second of this 20 times
            if worker_answers(0.5, queue=self.queue):
                return
        raise AssertionError("the live worker did not answer")

    def wait_ready(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, process in self.processes.items():
                assert process.poll() is None, f"{name} exited:\n{(self.logs / f'{name}.log').read_text()}"
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=10) as response:
                    if response.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        raise AssertionError("the live stack did not become healthy")

    def stop(self) -> None:
        for process in self.processes.values():
            process.terminate()
        for process in self.processes.values():
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


class Beat:
    """Celery beat as `up` starts it (the wake-ups' scheduler, agents/schedules.py), as a subprocess
    on a given database, sending to a given queue: an in-process worker's, or a live stack's."""

    def __init__(self, *, database: str, queue: str, logs: Path, extra_env: dict[str, str] | None = None,
                 standby: bool = False):
        logs.mkdir(parents=True, exist_ok=True)
        self.log = logs / "beat.log"
        self.env = {
            **os.environ, "DJANGO_SETTINGS_MODULE": "playground.settings", "PYTHONUNBUFFERED": "1",
            "PLAYGROUND_DATA_DIR": str(settings.DATA_DIR), "DATABASE_NAME": database, "CELERY_QUEUE": queue,
            "SECRET_KEY": settings.SECRET_KEY, **(extra_env or {}),
        }
        self.process: subprocess.Popen | None = None
        self.start(standby=standby)

    def start(self, *, standby: bool = False) -> None:
        """Start it, and wait until it sends wake-ups (or, with `standby`, until it sees another beat does)."""
        self.read = self.log.stat().st_size if self.log.exists() else 0
        self.process = subprocess.Popen([sys.executable, "-m", "celery", "-A", "playground", "beat", "--loglevel", "INFO"],
                                        cwd=ROOT, env=self.env, stdout=self.log.open("a"), stderr=subprocess.STDOUT)
        self.wait_for("wake-ups: another beat sends them" if standby else "wake-ups: this beat sends them")

    def output(self) -> str:
        """Its log since it (last) started."""
        return self.log.read_bytes()[self.read:].decode(errors="replace")

    def wait_for(self, line: str, timeout: float = 60) -> None:
        """Wait for a line of its log written since it (last) started."""
        deadline = time.monotonic() + timeout
        while line not in self.output():
            assert self.process.poll() is None, f"beat exited:\n{self.log.read_text()}"
            assert time.monotonic() < deadline, f"beat did not log {line!r}:\n{self.log.read_text()}"
            time.sleep(0.1)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
