"""The state of the services the playground needs, each checked for real."""

from django.conf import settings
from django.db import connection


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


CHECKS = {"database": check_database, "redis": check_redis, "worker": check_worker}


def service_states() -> dict[str, str]:
    states = {}
    for name, check in CHECKS.items():
        try:
            states[name] = check()
        except Exception as error:  # a health check reports every failure instead of raising
            states[name] = f"error: {type(error).__name__}: {error}".strip()
    return states
