"""New messages wait here, in a Redis list, to be embedded together.

A turn adds its messages' ids; the first addition after a batch starts one task, `EMBED_BATCH_SECONDS`
later, which takes every id waiting by then. Embedding with MiniLM on a CPU costs ~11 ms of CPU per
text when a turn's two texts go alone, ~2 ms each in a batch of forty, and that CPU is taken from the
turns running beside it.

Ids lost with Redis leave their messages unembedded: recall search still finds them by their words.
"""

import functools

import redis
from django.conf import settings

SCHEDULED_SECONDS = 60  # a batch task lost with its worker blocks no later batch for longer than this


@functools.cache
def client(url: str) -> redis.Redis:
    """One client per Redis URL and process (memory.word_stats uses it too)."""
    return redis.Redis.from_url(url)


def _keys() -> tuple[str, str]:
    # per Celery queue: test sessions and benchmarks share a Redis, each with its own queue and database
    base = f"{settings.CELERY_TASK_DEFAULT_QUEUE}:messages-to-embed"
    return base, base + ":scheduled"


def add(message_ids: list[int]) -> bool:
    """Put ids in the waiting list; True when the caller must start the batch task."""
    waiting, scheduled = _keys()
    pipe = client(settings.REDIS_URL).pipeline()
    pipe.rpush(waiting, *message_ids)
    pipe.set(scheduled, 1, nx=True, ex=SCHEDULED_SECONDS)
    return bool(pipe.execute()[1])


def take() -> list[int]:
    """Every id waiting. The scheduled mark goes first, so an id added from here on starts a new
    batch, and one added before is in this one."""
    waiting, scheduled = _keys()
    server = client(settings.REDIS_URL)
    server.delete(scheduled)
    pipe = server.pipeline()  # MULTI/EXEC: nothing added between the read and the delete is lost
    pipe.lrange(waiting, 0, -1)
    pipe.delete(waiting)
    return [int(i) for i in pipe.execute()[0]]
