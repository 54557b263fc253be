"""Start everything the playground needs on one machine, keep it running (a dead worker, beat, web
process, or embedded PostgreSQL or Redis is started again), and stop it all on Ctrl-C/SIGTERM."""

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from playground import embedded
from playground.services import admin_user_ensure

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)
FIRST_DELAY, MAX_DELAY = 1.0, 30.0  # seconds before a dead process starts again: doubled at each death
STEADY_SECONDS = 60.0  # a process that ran this long had recovered: its next restart waits FIRST_DELAY again
SERVICES_CHECK_SECONDS = 1.0  # how often the embedded servers are looked at


@dataclass
class Child:
    """A process `up` keeps running, and when it may start again after dying."""

    command: list[str]
    process: subprocess.Popen | None = None
    started: float = 0.0
    delay: float = FIRST_DELAY
    restart_at: float | None = None

    def died(self, now: float) -> float:
        """Plan the restart of a process that has just been found dead; returns the wait. One that
        keeps dying at once waits longer each time (no tight loop); one that ran a while, briefly."""
        if now - self.started >= STEADY_SECONDS:
            self.delay = FIRST_DELAY
        wait, self.delay = self.delay, min(self.delay * 2, MAX_DELAY)
        self.restart_at = now + wait
        return wait


class Command(BaseCommand):
    help = "Start embedded Postgres/Redis (when no URLs are set) and Milvus Lite (when used), migrate, a Celery worker, Celery beat and daphne."

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
        children: dict[str, Child] = {}
        try:
            call_command("migrate", interactive=False, verbosity=0)
            password = admin_user_ensure(data_dir=settings.DATA_DIR)
            if password:
                self.log("up", f"created user 'admin' with password {password}  (also in {settings.DATA_DIR / 'admin_password'})")
            if not self.stopping:
                children = self.children(host, port, concurrency)
                for name, child in children.items():
                    self.start(name, child)
                self.log("up", f"playground at http://{host}:{port}/  (Ctrl-C stops everything)")
                self.supervise(children, Services([name for name, used in embedded.needed().items() if used]))
        finally:
            self.stop_children(children)
            for name in embedded.stop(settings.EMBEDDED) if started else []:
                self.log("up", f"stopped embedded {name}")
        self.log("up", "stopped")

    def children(self, host: str, port: int, concurrency: int) -> dict[str, Child]:
        # WORKER_CONCURRENCY too: the worker sizes its database pool by it
        self.env = {**os.environ, "PLAYGROUND_DATA_DIR": str(settings.DATA_DIR), "PYTHONUNBUFFERED": "1",
                    "WORKER_CONCURRENCY": str(concurrency)}
        return {
            "worker": Child([sys.executable, "-m", "celery", "-A", "playground", "worker", "--loglevel", "INFO",
                             "--pool", "threads", "--concurrency", str(concurrency), "--without-gossip",
                             "--without-mingle", "-Q", settings.CELERY_TASK_DEFAULT_QUEUE, "-n", f"worker-{os.getpid()}@%h"]),
            # scheduled wake-ups (agents/schedules.py): one beat here; it restarts only once the one
            # before is dead (its group killed), and a beat of another `up` on the database stands by
            "beat": Child([sys.executable, "-m", "celery", "-A", "playground", "beat", "--loglevel", "INFO"]),
            "web": Child([sys.executable, "-m", "daphne", "-b", host, "-p", str(port), "playground.asgi:application"]),
        }

    def start(self, name: str, child: Child) -> None:
        # a new session: a Ctrl-C in the terminal reaches only us, and we stop the children in order
        child.process = subprocess.Popen(child.command, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         start_new_session=True, text=True, bufsize=1)
        child.started, child.restart_at = time.monotonic(), None
        threading.Thread(target=self.relay, args=(name, child.process), daemon=True).start()

    def relay(self, name: str, child: subprocess.Popen) -> None:
        for line in child.stdout:
            self.log(name, line.rstrip("\n"))

    def log(self, name: str, line: str) -> None:
        self.stdout.write(f"{name:>6} | {line}")
        self.stdout.flush()

    def request_stop(self, signum, frame) -> None:
        self.stopping = True

    def supervise(self, children: dict[str, Child], services: "Services") -> None:
        """Until asked to stop: a child that exits is started again, after its back-off; so is an
        embedded server that stopped (the worker and the web process reconnect by themselves)."""
        while not self.stopping:
            time.sleep(0.2)
            now = time.monotonic()
            services.look(now, self.log)
            for name, child in children.items():
                if child.process.poll() is None or self.stopping:
                    continue
                if child.restart_at is None:
                    _kill_group(child.process, signal.SIGKILL)  # whatever it left behind (its own children)
                    wait = child.died(now)
                    self.log("up", f"{name} exited with {child.process.returncode} after {now - child.started:.0f} s; "
                                   f"starting it again in {wait:g} s")
                elif now >= child.restart_at:
                    self.start(name, child)
                    self.log("up", f"{name} started again (pid {child.process.pid})")

    def stop_children(self, children: dict[str, Child]) -> None:
        # the web first, so no new turn is queued, then beat, then the worker (which finishes its task)
        for name in ("web", "beat", "worker"):
            child = children.get(name)
            if child is None or child.process is None:
                continue
            if child.process.poll() is not None:  # dead (waiting for its restart): only what it left
                _kill_group(child.process, signal.SIGKILL)
                continue
            _kill_group(child.process, signal.SIGTERM)
            try:
                child.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.log("up", f"{name} did not stop in 20 s; killing it")
                _kill_group(child.process, signal.SIGKILL)
                child.process.wait()


@dataclass
class Services:
    """The embedded servers `up` keeps running, and when to look at them or try to start them again."""

    names: list[str]
    next_look: float = 0.0
    delay: float = FIRST_DELAY

    def look(self, now: float, log) -> None:
        if not self.names or now < self.next_look:
            return
        self.next_look = now + SERVICES_CHECK_SECONDS
        running = {"postgres": embedded.postgres_running, "redis": embedded.redis_running, "milvus": embedded.milvus_running}
        dead = [name for name in self.names if not running[name](settings.EMBEDDED)]
        if not dead:
            self.delay = FIRST_DELAY
            return
        log("up", f"embedded {' and '.join(dead)} stopped; starting it again")
        try:
            embedded.ensure_running(settings.EMBEDDED, postgres="postgres" in dead, redis="redis" in dead,
                                    milvus="milvus" in dead)
        except Exception as error:  # a crashed PostgreSQL's backends may still hold its memory: later
            log("up", f"could not start embedded {' and '.join(dead)} ({error}); trying again in {self.delay:g} s")
            self.next_look, self.delay = now + self.delay, min(self.delay * 2, MAX_DELAY)
            return
        log("up", f"embedded {' and '.join(dead)} started again")


def _kill_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)  # its session's group: it was started as the leader of a new session
    except ProcessLookupError:  # nothing left in it
        pass
