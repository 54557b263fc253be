import redis
from celery import shared_task
from django.conf import settings

PING_ANSWER_SECONDS = 60  # an answer nobody took is gone after this


@shared_task(name="playground.ping", ignore_result=True)
def ping(reply_to: str) -> None:
    """Answers a worker check (playground.health.worker_answers): proves a worker takes tasks from
    Redis. The answer goes to a Redis list the checker waits on, not through Celery's result backend,
    which this project does not use: its result objects retried Redis for 20 s each when it was down."""
    with redis.Redis.from_url(settings.REDIS_URL, socket_timeout=5) as client:
        client.pipeline().rpush(reply_to, "pong").expire(reply_to, PING_ANSWER_SECONDS).execute()
