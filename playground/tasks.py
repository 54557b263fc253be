from celery import shared_task


@shared_task(name="playground.ping")
def ping() -> str:
    """Answers the health check: proves a worker takes tasks from Redis and returns results."""
    return "pong"
