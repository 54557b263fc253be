from playground.tasks import ping


def test_a_task_goes_through_redis_to_a_worker_and_back(celery_worker):
    result = ping.delay()
    assert result.get(timeout=10) == "pong"
    assert result.state == "SUCCESS"
