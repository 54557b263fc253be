"""Fixtures on the real services: embedded (or given) PostgreSQL+pgvector and Redis, a Celery worker."""

import pytest
from django.conf import settings

from playground import embedded


@pytest.fixture(scope="session")
def embedded_services():
    """Start the embedded Postgres and Redis of the test data directory, unless URLs are given."""
    started = embedded.ensure_running(settings.EMBEDDED, **embedded.needed())
    yield settings.EMBEDDED
    if started:
        embedded.stop(settings.EMBEDDED)


@pytest.fixture(scope="session")
def django_db_setup(embedded_services, django_db_setup):  # noqa: F811  (extends pytest-django's)
    yield


@pytest.fixture(scope="session")
def redis_available(embedded_services):
    return embedded_services


@pytest.fixture
def celery_worker(transactional_db, redis_available):
    """A real Celery worker in this process, taking tasks from the real Redis broker.

    It runs in a thread and talks to the test database, so tests using it commit for real.
    """
    from celery.contrib.testing.worker import start_worker

    from playground.celery import app

    with start_worker(app, pool="threads", concurrency=4, perform_ping_check=False, loglevel="WARNING",
                      queues=[settings.CELERY_TASK_DEFAULT_QUEUE]) as worker:
        yield worker
