"""Turns and uploads stranded by a worker that died, or by a task message that never reached Redis,
are found by the sweeps (agents.services.runs_sweep, memory.services.documents_sweep) instead of
waiting for the agent's next message or forever."""

import logging
import socket

import psycopg
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction

from agents.models import Run
from agents.services import INTERRUPTED, TURN_LOCK_CLASS, agent_create, runs_stranded, runs_sweep, turn_enqueue
from memory.models import Document
from memory.services import document_add, documents_sweep, source_create
from tests.factories import make_run, make_user
from tests.fake_llm import tool_call
from tests.helpers import wait_for_runs, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def broker_down(monkeypatch):
    """Tasks are published to a Redis that is not there (a port nobody listens on), as when the
    broker is down; the worker and everything else keep the real one."""
    from playground.celery import app

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setattr(app.conf, "broker_write_url", f"redis://127.0.0.1:{port}/0")
    monkeypatch.setattr(app.amqp, "_producer_pool", None)
    return monkeypatch


def other_session():
    """A database session of its own, as another worker's runner has."""
    params = connection.settings_dict
    return psycopg.connect(dbname=params["NAME"], user=params["USER"], password=params["PASSWORD"] or None,
                           host=params["HOST"] or None, port=params["PORT"] or None, autocommit=True)


def test_a_dead_runners_turn_is_failed_and_announced_and_its_queued_turn_runs(llm, celery_worker, published):
    agent = agent_create(owner=make_user(), name="Sam")
    interrupted = make_run(agent, input="lost", status=Run.Status.RUNNING)
    waiting = make_run(agent, input="next", status=Run.Status.QUEUED)  # the dead runner would have taken it
    llm.enqueue(tool_call("send_message", {"message": "hello again"}))

    assert runs_sweep() == {"failed": 1, "requeued": 1}

    interrupted.refresh_from_db()
    assert (interrupted.status, interrupted.stop_reason, interrupted.error) == ("failed", "error", INTERRUPTED)
    ended = [(e["type"], e["run_id"]) for agent_id, e in published if agent_id == agent.pk and e["type"] in ("error", "stop")]
    assert ended[:2] == [("error", interrupted.pk), ("stop", interrupted.pk)]
    assert [(r.pk, r.status) for r in wait_for_runs(agent, 2)] == [(interrupted.pk, "failed"), (waiting.pk, "completed")]


def test_a_turn_whose_runner_is_alive_is_left_alone():
    agent = agent_create(owner=make_user(), name="Sam")
    running = make_run(agent, status=Run.Status.RUNNING)
    with other_session() as runner:
        assert runner.execute("SELECT pg_try_advisory_lock(%s, %s)", [TURN_LOCK_CLASS, agent.pk]).fetchone()[0]
        assert runs_sweep() == {"failed": 0, "requeued": 0}
        running.refresh_from_db()
        assert running.status == "running"
    # the runner's session ended with its worker: now the turn is an orphan
    assert runs_sweep() == {"failed": 1, "requeued": 0}


def test_a_turn_queued_while_redis_was_down_is_queued_again_by_the_sweep(llm, celery_worker, broker_down, caplog):
    agent = agent_create(owner=make_user(), name="Sam")
    llm.enqueue(tool_call("send_message", {"message": "there you are"}))
    with caplog.at_level(logging.ERROR), transaction.atomic():
        run = turn_enqueue(agent=agent, text="hi")  # the request that queued it does not fail
    assert "Error 111 connecting" in caplog.text
    broker_down.undo()  # Redis is back

    # a run queued a moment ago may be waiting for a free worker: it is not queued twice
    assert runs_sweep() == {"failed": 0, "requeued": 0}
    run.refresh_from_db()
    assert run.status == "queued"
    assert runs_sweep(requeue_after=0) == {"failed": 0, "requeued": 1}
    [done] = wait_for_runs(agent)
    assert (done.pk, done.status) == (run.pk, "completed")


def test_an_upload_while_redis_was_down_is_ingested_once_the_sweep_finds_it(llm, celery_worker, broker_down, media,
                                                                             settings, caplog):
    settings.EMBEDDING_MODEL = "openai/fake-embedding"  # embedded by the scripted server: no model to load
    source = source_create(owner=make_user(), name="notes")
    with caplog.at_level(logging.WARNING):
        document = document_add(owner=source.owner, source=source, file=SimpleUploadedFile("a.txt", b"Alpha words."))
    assert "waits to be queued" in caplog.text  # the upload itself did not fail
    broker_down.undo()

    assert documents_sweep(requeue_after=60) == 0  # a moment ago: it may be waiting for a free worker
    assert documents_sweep(requeue_after=0) == 1
    wait_until(lambda: Document.objects.get(pk=document.pk).status == "done", timeout=60, message="the ingestion")
    assert documents_sweep(requeue_after=0) == 0  # done: nothing left to do


@pytest.mark.django_db
def test_the_sweep_finds_stranded_runs_through_the_index_of_unfinished_runs():
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # as on a table of many finished runs
    plan = runs_stranded(60).explain()
    assert "run_unfinished" in plan and "Seq Scan" not in plan, plan
