"""While PostgreSQL or Redis is away: a clear 503 at once, and recovery without a restart once it
is back.

- An error is an outage when it says the server cannot be reached (`database_unreachable`,
  `redis_unreachable`), not when a query was wrong or a lock timed out.
- After a request or a task has found the database unreachable, its process answers 503 at once
  (`database.up()` is False) instead of letting every request wait for the connection pool's
  time-out, and probes the server with a connection of its own at most once a second. When a probe
  connects, the pool is replaced by a fresh one: the old one may be in a long reconnect back-off.
- Redis is not gated: a connection to it fails in a millisecond when it is down, and every use of it
  (channels_redis, kombu, redis-py) connects again by itself when it is back.

`OutageMiddleware` does this for pages (the API's exception handler for /v1); the worker's runs
sweep (playground/celery.py) probes and reports in the same way.
"""

import logging
import threading
import time

import psycopg
from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.db import InterfaceError, OperationalError, connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string

from memory.services import REDIS_UNREACHABLE

logger = logging.getLogger(__name__)

DATABASE_DOWN = ("The database (PostgreSQL) is not reachable right now, so nothing was read or changed. "
                 "Try again in a moment.")
REDIS_DOWN = ("Redis (the task queue and the live event stream) is not reachable right now, so nothing was "
              "queued. Try again in a moment.")
RETRY_AFTER_SECONDS = 5
PROBE_SECONDS = 1.0
# 08: connection exceptions; 57P01-57P03: the server is shutting down, crashed, or is starting
_CONNECTION_STATES = ("08", "57P01", "57P02", "57P03")


def database_unreachable(error: BaseException) -> bool:
    """Django's error for a connection that failed, broke, or could not be had from the pool."""
    if not isinstance(error, (OperationalError, InterfaceError)):
        return False
    cause = error.__cause__
    if not isinstance(cause, (psycopg.OperationalError, psycopg.InterfaceError)):
        return False
    state = getattr(cause, "sqlstate", None)  # None: no answer from a server at all (or the pool's time-out)
    return state is None or state.startswith(_CONNECTION_STATES)


def redis_unreachable(error: BaseException) -> bool:
    return isinstance(error, REDIS_UNREACHABLE)


class DatabaseWatch:
    """This process's view of the database: up, or down since a request or task found it so."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.down_since: float | None = None
        self._probed = 0.0

    def lost(self) -> None:
        with self._lock:
            if self.down_since is None:
                self.down_since = time.monotonic()
                logger.warning("the database is not reachable; answering 503 until a probe connects")

    def up(self) -> bool:
        """True unless the database was found down and a probe (at most one a second) still fails."""
        if self.down_since is None:
            return True
        with self._lock:
            if self.down_since is None:
                return True
            if time.monotonic() - self._probed < PROBE_SECONDS:
                return False
            self._probed = time.monotonic()
            try:
                psycopg.connect(**connection.get_connection_params(), connect_timeout=2).close()
            except psycopg.Error:
                return False
            logger.warning("the database is back after %.0f s", time.monotonic() - self.down_since)
            self.down_since = None
        connection.close_pool()  # the next connection comes from a fresh pool, at once
        return True


database = DatabaseWatch()


def unavailable(request: HttpRequest, message: str, code: str) -> HttpResponse:
    """503 with the reason: JSON for the API, a page for people."""
    if request.path.startswith("/v1/") or request.path == "/v1":
        response = JsonResponse({"detail": message, "code": code}, status=503)
        response["x-should-retry"] = "false"
    elif request.headers.get("HX-Request"):  # htmx shows it in a banner (static/js/playground.js)
        response = HttpResponse(message, status=503, content_type="text/plain; charset=utf-8")
    else:
        response = HttpResponse(render_to_string("unavailable.html", {"message": message, "retry_after": RETRY_AFTER_SECONDS}), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


class OutageMiddleware:
    """503 at once while this process knows the database is down; 503 with the reason for a request
    that finds PostgreSQL or Redis unreachable (instead of a 500 page). /healthz reports for itself."""

    sync_capable = async_capable = True

    def __init__(self, get_response) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if self.is_async:
            return self._acall(request)
        if request.path != "/healthz" and not database.up():
            return unavailable(request, DATABASE_DOWN, "database_unavailable")
        return self.get_response(request)

    async def _acall(self, request: HttpRequest) -> HttpResponse:
        # the probe blocks, in a thread: only while the database is known to be down
        if database.down_since is not None and request.path != "/healthz" and not await sync_to_async(database.up)():
            return unavailable(request, DATABASE_DOWN, "database_unavailable")
        return await self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if database_unreachable(exception):
            database.lost()
            return unavailable(request, DATABASE_DOWN, "database_unavailable")
        if redis_unreachable(exception):
            return unavailable(request, REDIS_DOWN, "redis_unavailable")
        return None
