"""The state of the services the playground needs, each checked for real.

/healthz is public (load balancers and `manage.py up` poll it without logging in), so a check
that costs something is not run per request: the worker check queues a task, and its answer is
kept for WORKER_CHECK_SECONDS, so a flood of requests queues at most one task per interval (per
process)."""

import threading
import time
import uuid
from collections.abc import Callable

import redis

from django.conf import settings
from django.db import connection

from playground import outages
from playground.tasks import ping

WORKER_CHECK_SECONDS = 5.0


def check_database() -> str:
    if not outages.database.up():  # found down, and a probe still fails: no wait for the pool
        return "unreachable"
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
            row = cursor.fetchone()
    except Exception as error:
        if outages.database_unreachable(error):
            outages.database.lost()
        raise
    return "ok" if row else "no pgvector extension (run migrations)"


def check_redis() -> str:
    with redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2) as client:
        return "ok" if client.ping() else "no answer"


def worker_answers(timeout: float, *, queue: str | None = None) -> bool:
    """Whether a worker takes a task from the queue and answers within `timeout` seconds."""
    reply_to = f"{settings.CELERY_TASK_DEFAULT_QUEUE}:ping:{uuid.uuid4().hex}"
    ping.apply_async(args=[reply_to], expires=timeout, queue=queue or settings.CELERY_TASK_DEFAULT_QUEUE)
    with redis.Redis.from_url(settings.REDIS_URL, socket_timeout=timeout + 5, socket_connect_timeout=2) as client:
        return client.blpop([reply_to], timeout=timeout) is not None


def check_worker() -> str:
    timeout = settings.HEALTH_WORKER_TIMEOUT
    return "ok" if worker_answers(timeout) else f"no worker answered within {timeout:g} s"


def _state(check: Callable[[], str]) -> str:
    try:
        return check()
    except Exception as error:  # a health check reports every failure instead of raising
        return f"error: {type(error).__name__}: {error}".strip()


class Kept:
    """A check whose answer is kept for `seconds` after it came. Callers that arrive while it runs
    wait for it and take its answer, rather than running one each."""

    def __init__(self, check: Callable[[], str], seconds: float) -> None:
        self.check, self.seconds = check, seconds
        self._lock = threading.Lock()
        self._answer: tuple[float, str] | None = None

    def __call__(self) -> str:
        with self._lock:
            if self._answer is None or time.monotonic() - self._answer[0] >= self.seconds:
                state = _state(self.check)
                self._answer = (time.monotonic(), state)
            return self._answer[1]

    def forget(self) -> None:
        with self._lock:
            self._answer = None


worker_state = Kept(lambda: check_worker(), WORKER_CHECK_SECONDS)  # late-bound, so tests may replace check_worker
CHECKS: dict[str, Callable[[], str]] = {"database": check_database, "redis": check_redis, "worker": worker_state}


def service_states() -> dict[str, str]:
    """Each service's state: "ok", or what is wrong (exception text included: for staff only).
    With Redis down the worker is not asked: the task would wait for Redis (seconds) to say so."""
    states = {}
    for name, check in CHECKS.items():
        states[name] = "unknown: Redis is down" if name == "worker" and states.get("redis") != "ok" else _state(check)
    return states
