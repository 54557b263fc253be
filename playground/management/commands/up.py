"""Start everything the playground needs on one machine, and stop it all on Ctrl-C/SIGTERM."""

import os
import signal
import subprocess
import sys
import threading
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from playground import embedded
from playground.services import admin_user_ensure

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Command(BaseCommand):
    help = "Start embedded Postgres/Redis (when no URLs are set), migrate, a Celery worker and daphne."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--concurrency", type=int, default=settings.CELERY_WORKER_CONCURRENCY)

    def handle(self, *args, host, port, concurrency, **options):
        # a plain flag: a signal handler must not take locks (Event.set could deadlock the main thread)
        self.stopping = False
        for sig in STOP_SIGNALS:
            signal.signal(sig, self.request_stop)

        started = embedded.ensure_running(settings.EMBEDDED, **embedded.needed())
        for name in started:
            self.log("up", f"started embedded {name} in {settings.DATA_DIR}")
        children: dict[str, subprocess.Popen] = {}
        try:
            call_command("migrate", interactive=False, verbosity=0)
            password = admin_user_ensure(data_dir=settings.DATA_DIR)
            if password:
                self.log("up", f"created user 'admin' with password {password}  (also in {settings.DATA_DIR / 'admin_password'})")
            if not self.stopping:
                children = self.start_children(host, port, concurrency)
                self.log("up", f"playground at http://{host}:{port}/  (Ctrl-C stops everything)")
                self.wait(children)
        finally:
            self.stop_children(children)
            for name in embedded.stop(settings.EMBEDDED) if started else []:
                self.log("up", f"stopped embedded {name}")
        self.log("up", "stopped")

    def start_children(self, host: str, port: int, concurrency: int) -> dict[str, subprocess.Popen]:
        # WORKER_CONCURRENCY too: the worker sizes its database pool by it
        env = {**os.environ, "PLAYGROUND_DATA_DIR": str(settings.DATA_DIR), "PYTHONUNBUFFERED": "1",
               "WORKER_CONCURRENCY": str(concurrency)}
        commands = {
            "worker": [sys.executable, "-m", "celery", "-A", "playground", "worker", "--loglevel", "INFO",
                       "--pool", "threads", "--concurrency", str(concurrency), "--without-gossip", "--without-mingle",
                       "-Q", settings.CELERY_TASK_DEFAULT_QUEUE, "-n", f"worker-{os.getpid()}@%h"],
            "web": [sys.executable, "-m", "daphne", "-b", host, "-p", str(port), "playground.asgi:application"],
        }
        children = {}
        for name, command in commands.items():
            # a new session: a Ctrl-C in the terminal reaches only us, and we stop the children in order
            child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True, text=True, bufsize=1)
            threading.Thread(target=self.relay, args=(name, child), daemon=True).start()
            children[name] = child
        return children

    def relay(self, name: str, child: subprocess.Popen) -> None:
        for line in child.stdout:
            self.log(name, line.rstrip("\n"))

    def log(self, name: str, line: str) -> None:
        self.stdout.write(f"{name:>6} | {line}")
        self.stdout.flush()

    def request_stop(self, signum, frame) -> None:
        self.stopping = True

    def wait(self, children: dict[str, subprocess.Popen]) -> None:
        while not self.stopping:
            time.sleep(0.2)
            for name, child in children.items():
                if child.poll() is not None:
                    self.log("up", f"{name} exited with {child.returncode}; stopping everything")
                    return

    def stop_children(self, children: dict[str, subprocess.Popen]) -> None:
        # the web first, so no new turn is queued, then the worker (which finishes its task)
        for name in ("web", "worker"):
            child = children.get(name)
            if child is None or child.poll() is not None:
                continue
            os.killpg(child.pid, signal.SIGTERM)
            try:
                child.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.log("up", f"{name} did not stop in 20 s; killing it")
                os.killpg(child.pid, signal.SIGKILL)
                child.wait()
