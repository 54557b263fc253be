"""The state of the services the playground needs, each checked for real.

/healthz is public (load balancers and `manage.py up` poll it without logging in), so a check
that costs something is not run per request: the worker check queues a task, and its answer is
kept for WORKER_CHECK_SECONDS, so a flood of requests queues at most one task per interval (per
process)."""

import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.db import connection

WORKER_CHECK_SECONDS = 5.0


def check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT extversion FROM pg_extension WHERE extname = 'vector'")
        row = cursor.fetchone()
    return "ok" if row else "no pgvector extension (run migrations)"


def check_redis() -> str:
    import redis

    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2, socket_connect_timeout=2)
    try:
        return "ok" if client.ping() else "no answer"
    finally:
        client.close()


def check_worker() -> str:
    from playground.tasks import ping

    timeout = settings.HEALTH_WORKER_TIMEOUT
    return "ok" if ping.apply_async(expires=timeout).get(timeout=timeout) == "pong" else "wrong answer"


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
    """Each service's state: "ok", or what is wrong (exception text included: for staff only)."""
    return {name: _state(check) for name, check in CHECKS.items()}
