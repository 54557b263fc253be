import threading

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from rest_framework.authtoken.models import Token

from playground import health
from tests.factories import make_user

DETAILS = {"status": "ok", "database": "ok", "redis": "ok", "worker": "ok"}


@pytest.fixture(autouse=True)
def fresh_worker_state():
    health.worker_state.forget()
    yield
    health.worker_state.forget()


@pytest.fixture
def pings(monkeypatch):
    """How many ping tasks were queued (they are still queued for real)."""
    from playground.tasks import ping

    queued = []
    send = ping.apply_async

    def counted(*args, **kwargs):
        queued.append(1)
        return send(*args, **kwargs)

    monkeypatch.setattr(ping, "apply_async", counted)
    return queued


@pytest.mark.django_db(transaction=True)
def test_healthz_is_green_when_database_redis_and_a_worker_answer(client, celery_worker):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}  # anyone may ask: the state, nothing inside
    assert response["Cache-Control"] == "no-store"
    client.force_login(make_user(is_staff=True))
    assert client.get("/healthz").json() == DETAILS


@pytest.mark.django_db
def test_healthz_answers_503_and_tells_only_staff_why_when_no_worker_answers(client, redis_available):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "degraded"}
    assert b"Timeout" not in response.content and b"error" not in response.content

    client.force_login(make_user(is_staff=True))
    body = client.get("/healthz").json()
    assert body["status"] == "degraded"
    assert body["database"] == "ok" and body["redis"] == "ok"
    assert body["worker"] == f"no worker answered within {settings.HEALTH_WORKER_TIMEOUT:g} s"


@pytest.mark.django_db
def test_a_staff_users_api_token_sees_the_details_and_other_tokens_do_not(redis_available):
    staff, someone = make_user(is_staff=True), make_user()
    as_staff = Client(HTTP_AUTHORIZATION=f"Bearer {Token.objects.create(user=staff).key}")
    assert set(as_staff.get("/healthz").json()) == {"status", "database", "redis", "worker"}
    as_someone = Client(HTTP_AUTHORIZATION=f"Bearer {Token.objects.create(user=someone).key}")
    assert as_someone.get("/healthz").json() == {"status": "degraded"}
    assert Client(HTTP_AUTHORIZATION="Bearer no-such-token").get("/healthz").json() == {"status": "degraded"}
    client = Client()
    client.force_login(someone)
    assert client.get("/healthz").json() == {"status": "degraded"}


@pytest.mark.django_db(transaction=True)
def test_a_flood_of_health_checks_queues_one_ping_task_per_interval(celery_worker, pings, monkeypatch):
    answers = []

    def ask():
        answers.append(Client().get("/healthz").status_code)
        connection.close()

    threads = [threading.Thread(target=ask) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for _ in range(20):
        ask()
    assert answers == [200] * 32
    assert len(pings) == 1

    monkeypatch.setattr(health.worker_state, "seconds", 0.0)  # the interval is over: the worker is asked again
    ask()
    assert answers[-1] == 200 and len(pings) == 2


@pytest.mark.django_db
def test_a_failed_worker_check_is_kept_for_the_interval_too(redis_available, pings, settings):
    settings.HEALTH_WORKER_TIMEOUT = 0.2
    client = Client()
    assert [client.get("/healthz").status_code for _ in range(5)] == [503] * 5
    assert len(pings) == 1
