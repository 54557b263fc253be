import redis
from django.conf import settings

from playground.health import worker_answers


def test_a_task_goes_through_redis_to_a_worker_and_its_answer_comes_back(celery_worker):
    assert worker_answers(10) is True


def test_no_answer_without_a_worker_and_none_left_behind(redis_available):
    assert worker_answers(0.3) is False
    client = redis.Redis.from_url(settings.REDIS_URL)
    assert not client.keys(f"{settings.CELERY_TASK_DEFAULT_QUEUE}:ping:*")
