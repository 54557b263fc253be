"""Fixtures on the real services: embedded (or given) PostgreSQL+pgvector and Redis, a Celery worker."""

import os

import psutil
import pytest
from django.conf import settings

from playground import embedded


@pytest.fixture(scope="session", autouse=True)
def quick_flush():
    """Transactional tests empty every table after each test. One TRUNCATE of all 33 tables took 225 ms
    here (each table gets new files), some 2 minutes of a run; DELETE of the few rows a test leaves takes
    a few ms, the foreign keys (all deferrable) checked at the end. The tables with vector and word
    indexes are still truncated: deleted rows would linger in an HNSW index and crowd a search's
    candidates until a vacuum. 38 ms in all."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    truncate = DatabaseOperations.sql_flush
    indexed = ("memory_message", "memory_passage")

    def sql_flush(self, style, tables, *, reset_sequences=False, allow_cascade=False):
        if reset_sequences or not tables:
            return truncate(self, style, tables, reset_sequences=reset_sequences, allow_cascade=allow_cascade)
        rest = [t for t in tables if t not in indexed]
        return ["SET CONSTRAINTS ALL DEFERRED",
                *([f"TRUNCATE {', '.join(t for t in tables if t in indexed)} CASCADE"] if len(rest) < len(tables) else []),
                *(f"DELETE FROM {self.quote_name(t)}" for t in rest)]

    DatabaseOperations.sql_flush = sql_flush
    yield
    DatabaseOperations.sql_flush = truncate


@pytest.fixture(scope="session")
def embedded_services():
    """Start the embedded Postgres and Redis of the test data directory, unless URLs are given.

    Several test sessions may share them; the last one to finish stops them."""
    sessions = settings.EMBEDDED.data_dir / "test-sessions"
    sessions.mkdir(parents=True, exist_ok=True)
    mine = sessions / str(os.getpid())
    mine.touch()
    embedded.ensure_running(settings.EMBEDDED, **embedded.needed())
    yield settings.EMBEDDED
    mine.unlink()
    alive = [p for p in sessions.iterdir() if p.name.isdigit() and psutil.pid_exists(int(p.name))]
    if not alive:
        embedded.stop(settings.EMBEDDED)


@pytest.fixture(scope="session")
def milvus_service(embedded_services):
    """Milvus Lite of the test data directory, started once (the last session stops it with the
    others), or the Milvus server MILVUS_URI names. Each session has collections of its own
    (tests/settings.py), dropped at its end."""
    from memory import milvus

    if not embedded.milvus_server_uri(os.environ.get("MILVUS_URI", "")):
        embedded.ensure_running(settings.EMBEDDED, postgres=False, redis=False, milvus=True)
    yield
    milvus.collections_drop()


@pytest.fixture(params=["pgvector", "milvus"])
def archival_store(request, settings, transactional_db):
    """Archival vectors in pgvector, then in Milvus, emptied before each test. Transactional: the
    copies to Milvus are made once PostgreSQL commits, which a test in a transaction never does."""
    settings.ARCHIVAL_VECTOR_STORE = request.param
    if request.param == "milvus":
        from memory import milvus

        request.getfixturevalue("milvus_service")
        milvus.collections_drop()
    return request.param


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


from tests.fake_llm import fake_llm  # noqa: E402,F401  (the scripted LLM server fixture)


@pytest.fixture
def llm(fake_llm, settings):
    """The scripted LLM server, the playground's LLM settings pointed at it: for turns run in this
    process (the live stack's worker talks to `live_llm`)."""
    import agents.llm
    from memory import embeddings

    def forget_servers():
        # clients and embedders made for another test's server would keep calling it
        agents.llm._clients.clear()
        for model in [m for m in embeddings._embedders if m.startswith("openai/")]:
            embeddings._embedders.pop(model, None)

    settings.OPENAI_BASE_URL = fake_llm.base_url
    settings.OPENAI_API_KEY = "test-key"
    settings.LLM_MODEL = "gpt-4o-mini"
    settings.LLM_MAX_RETRIES = 2
    forget_servers()
    yield fake_llm
    forget_servers()


@pytest.fixture
def media(settings, tmp_path):
    """Uploads go to a folder of the test's own."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def published(monkeypatch):
    """Every agent event, captured at the one function that publishes them (and still sent on)."""
    import agents.events

    captured: list[tuple[int, dict]] = []
    send = agents.events.publish

    def capture(agent_id, event):
        captured.append((agent_id, event))
        send(agent_id, event)

    monkeypatch.setattr(agents.events, "publish", capture)
    return captured


# --- a live stack: daphne and a Celery worker as subprocesses, on the test database -----------------


@pytest.fixture(scope="session")
def live_llm():
    """The scripted LLM server the live stack's worker talks to (not `llm`, which in-process turns
    use); one per session, emptied for each test by `live`."""
    from tests.fake_llm import FakeLLM

    with FakeLLM() as server:
        yield server


@pytest.fixture(scope="session")
def live_stack(django_db_setup, django_db_blocker, live_llm):
    from django.db import connection

    from tests.live_stack import LiveStack

    with django_db_blocker.unblock():
        stack = LiveStack(
            llm_url=live_llm.base_url, database=connection.settings_dict["NAME"],
            # its own queue: tasks that tests queue in-process are for their in-process worker
            queue=settings.CELERY_TASK_DEFAULT_QUEUE + "-live",
            channels_prefix=settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
            logs=settings.DATA_DIR / "live-logs")
    yield stack
    stack.stop()


@pytest.fixture(scope="session")
def live_stack_milvus(django_db_setup, django_db_blocker, live_llm, milvus_service):
    """A second live stack, whose web process and worker keep archival vectors in this session's Milvus."""
    from django.db import connection

    from tests.live_stack import LiveStack

    with django_db_blocker.unblock():
        stack = LiveStack(
            llm_url=live_llm.base_url, database=connection.settings_dict["NAME"],
            queue=settings.CELERY_TASK_DEFAULT_QUEUE + "-live-milvus",
            channels_prefix=settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
            logs=settings.DATA_DIR / "live-logs-milvus",
            extra_env={"ARCHIVAL_VECTOR_STORE": "milvus", "MILVUS_URI": settings.MILVUS_URI,
                       "MILVUS_COLLECTION_PREFIX": settings.MILVUS_COLLECTION_PREFIX})
    yield stack
    stack.stop()


@pytest.fixture
def live_archival(request, archival_store, live_llm):
    """`live`, on the live stack whose archival vectors are in `archival_store`."""
    stack = request.getfixturevalue("live_stack_milvus" if archival_store == "milvus" else "live_stack")
    live_llm.reset()
    yield stack
    live_llm.reset()


@pytest.fixture
def live(live_stack, live_llm, transactional_db):
    """The live stack for one test: its data committed, the scripted LLM emptied."""
    live_llm.reset()
    yield live_stack
    live_llm.reset()
