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
                 concurrency: int = 4, extra_env: dict[str, str] | None = None):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.logs = logs
        logs.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ, "DJANGO_SETTINGS_MODULE": "playground.settings", "PYTHONUNBUFFERED": "1",
            "PLAYGROUND_DATA_DIR": str(settings.DATA_DIR), "DATABASE_NAME": database, "CELERY_QUEUE": queue,
            "CHANNELS_PREFIX": channels_prefix, "OPENAI_BASE_URL": llm_url, "OPENAI_API_KEY": "test-key",
            "LLM_MODEL": "gpt-4o-mini", "LLM_MAX_RETRIES": "1", "SECRET_KEY": settings.SECRET_KEY,
            "WORKER_CONCURRENCY": str(concurrency),
            **(extra_env or {}),
        }
        commands = {
            "web": [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(self.port), "playground.asgi:application"],
            "worker": [sys.executable, "-m", "celery", "-A", "playground", "worker", "--pool", "threads",
                       "--concurrency", str(concurrency), "-Q", queue, "--without-gossip", "--without-mingle",
                       "-n", f"live-{os.getpid()}-{self.port}@%h", "--loglevel", "WARNING"],
        }
        self.processes = {
            name: subprocess.Popen(command, cwd=ROOT, env=env, stdout=(logs / f"{name}.log").open("w"),
                                   stderr=subprocess.STDOUT)
            for name, command in commands.items()
        }
        self.wait_ready()

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
