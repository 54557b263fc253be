import pytest


@pytest.mark.django_db(transaction=True)
def test_healthz_is_green_when_database_redis_and_a_worker_answer(client, celery_worker):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "redis": "ok", "worker": "ok"}


@pytest.mark.django_db
def test_healthz_answers_503_and_says_why_when_no_worker_answers(client, redis_available):
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["database"] == "ok" and body["redis"] == "ok"
    assert body["worker"].startswith("error: TimeoutError")
