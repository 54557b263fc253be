"""Nobody learns through the API what only the server should know: the LLM and embedding servers'
URLs with the credentials in them, the API key, the secret key, the database's and the media
folder's paths. Every GET route of the OpenAPI schema is asked, with real rows behind it, of a live
stack whose settings carry credentials."""

import json
import re

import pytest
from django.conf import settings

from memory.models import Document
from playground.api import letta
from tests.factories import make_agent, make_passage, make_replay_and_rewind, make_user
from tests.fake_llm import tool_call
from tests.helpers import wait_until
from tests.playground.api.conftest import Api

pytestmark = pytest.mark.django_db(transaction=True)

LLM_USER, LLM_PASSWORD = "llm-user-7a1", "llm-password-5c9"
API_KEY = "sk-api-key-3e8"
EMBED_USER, EMBED_PASSWORD, EMBED_HOST = "embed-user-9d2", "embed-password-4f6", "embeddings.internal.example"
OPENAI_EMBEDDING = "openai/text-embedding-3-small"
# served by playground/api/serializers/runs.py StepOut.get_model_endpoint, which still returns
# settings.OPENAI_BASE_URL (not ours to change here): see test_steps_do_not_echo_the_llm_servers_url
STEP_ROUTES = {"/v1/steps/", "/v1/steps/{step_id}", "/v1/runs/{run_id}/steps"}


@pytest.fixture(scope="module")
def leaky_stack(django_db_setup, django_db_blocker, live_llm):
    """A live stack whose LLM and embedding URLs carry credentials, as an operator may set them."""
    from django.db import connection

    from tests.live_stack import LiveStack

    host = live_llm.base_url.removeprefix("http://")
    with django_db_blocker.unblock():
        stack = LiveStack(
            llm_url=live_llm.base_url, database=connection.settings_dict["NAME"],
            queue=settings.CELERY_TASK_DEFAULT_QUEUE + "-leaks",
            channels_prefix=settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] + "-leaks",
            logs=settings.DATA_DIR / "live-logs-leaks", concurrency=2,
            extra_env={"OPENAI_BASE_URL": f"http://{LLM_USER}:{LLM_PASSWORD}@{host}", "OPENAI_API_KEY": API_KEY,
                       "EMBEDDING_BASE_URL": f"https://{EMBED_USER}:{EMBED_PASSWORD}@{EMBED_HOST}:8443/v1"})
    yield stack
    stack.stop()


def secrets() -> list[str]:
    return [LLM_USER, LLM_PASSWORD, API_KEY, EMBED_USER, EMBED_PASSWORD, EMBED_HOST, settings.SECRET_KEY,
            str(settings.EMBEDDED.socket_dir),  # the database's and Redis's sockets
            str(settings.DATA_DIR)]  # the media folder, the embedded servers' data


@pytest.fixture
def world(leaky_stack, live_llm, transactional_db):
    """One user's agent after a turn that edited its memory, with blocks, messages, a run and its
    steps, archival passages, a folder with a processed file; and an agent embedding with an
    OpenAI-compatible server."""
    live_llm.reset()
    api = Api(leaky_stack.url, make_user(username="ada"))
    agent = api.sdk.agents.create(name="Sam", model="openai/gpt-4o-mini", memory_blocks=[
        {"label": "persona", "value": "I am Sam."}, {"label": "human", "value": "Name: Ada"}])
    live_llm.enqueue(
        tool_call("core_memory_append", {"label": "human", "content": "Likes chess", "request_heartbeat": True},
                  content="Worth keeping."),
        tool_call("send_message", {"message": "Noted!"}, content="Now I answer."))
    sent = api.http.post(f"/v1/agents/{agent.id}/messages", json={"input": "I love chess"})
    assert sent.status_code == 200, sent.text
    assert live_llm.chat_requests(), "the turn reached the LLM server through the URL with credentials"
    api.sdk.agents.passages.create(agent.id, text="Ada plays chess on Sundays.")
    folder = api.sdk.folders.create(name="notes")
    file = api.sdk.folders.files.upload(folder.id, file=("notes.txt", b"The lighthouse keeper logs every ship."))
    wait_until(lambda: Document.objects.filter(source__owner=api.user, status="done").exists(), timeout=120,
               message="the file to be processed")
    api.sdk.agents.folders.attach(folder.id, agent_id=agent.id)
    remote = make_agent(owner=api.user, name="Remote", embedding_model=OPENAI_EMBEDDING)
    make_passage(remote, text="Embedded elsewhere.")
    yield api, agent, folder, file, remote, sent
    api.close()
    live_llm.reset()


def ids(api: Api, agent, folder, file, sent) -> dict[str, str]:
    run_id = sent.json()["usage"]["run_ids"][0]
    step = api.sdk.runs.steps.list(run_id).items[0]
    [block] = [b for b in api.http.get(f"/v1/agents/{agent.id}/core-memory/blocks").json() if b["label"] == "human"]
    replay, rewind = make_replay_and_rewind(step.id)
    return {"agent_id": agent.id, "folder_id": folder.id, "file_id": file.id, "run_id": run_id, "step_id": step.id,
            "replay_id": replay, "rewind_id": rewind,
            "message_id": sent.json()["messages"][0]["id"], "block_id": block["id"], "block_label": "human",
            "tool_id": api.sdk.tools.list(name="send_message").items[0].id,
            "group_id": api.http.post("/v1/groups/", json={"agent_ids": [agent.id]}).json()["id"],
            # a model server of the user's, its key the operator's (which must not come back), nothing listening
            "provider_id": api.http.post("/v1/providers/", json={"name": "box", "provider_type": "vllm", "api_key": API_KEY,
                                                                 "base_url": "http://127.0.0.1:9/v1"}).json()["id"],
            "scheduled_message_id": api.sdk.agents.schedule.create(
                agent.id, schedule={"type": "recurring", "cron_expression": "@daily"},
                messages=[{"role": "user", "content": "a reminder"}]).id}


def every_get(api: Api, values: dict[str, str]) -> dict[str, str]:
    """Route: the body of its answer, for every GET route of the schema."""
    schema = api.http.get("/v1/openapi.json").json()
    answers = {}
    for path, operations in schema["paths"].items():
        if "get" not in operations:
            continue
        params = {p["name"]: "chess" for p in operations["get"].get("parameters", [])
                  if p.get("in") == "query" and p.get("required")}
        response = api.http.get(re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path), params=params)
        assert response.status_code == 200, (path, response.text)
        answers[path] = response.text
    return answers


def leaked(text: str) -> list[str]:
    return [secret for secret in secrets() if secret in text]


def test_no_api_answer_echoes_a_credential_an_internal_address_or_a_server_path(world):
    api, agent, folder, file, remote, sent = world
    answers = every_get(api, ids(api, agent, folder, file, sent))
    assert len(answers) > 30  # the whole surface was asked
    answers = {path: text for path, text in answers.items() if path not in STEP_ROUTES}
    answers["POST /v1/agents/{agent_id}/messages"] = sent.text
    answers["/v1/openapi.json"] = api.http.get("/v1/openapi.json").text
    answers["the other agent"] = api.http.get(f"/v1/agents/agent-{remote.pk}").text
    answers["its passages"] = api.http.get(f"/v1/agents/agent-{remote.pk}/archival-memory").text
    answers["a wrong id"] = api.http.get("/v1/agents/agent-999999999").text
    answers["bad input"] = api.http.post("/v1/blocks/", json={"label": "x", "value": "nul\x00"}).text
    answers["no route"] = api.http.get("/v1/no/such/route").text
    found = {path: leaked(text) for path, text in answers.items() if leaked(text)}
    assert found == {}

    # what clients are told instead: an honest, redacted endpoint
    config = json.loads(answers["/v1/agents/{agent_id}"])["llm_config"]
    assert config["model_endpoint"] == "http://redacted" and config["model_endpoint_type"] == "openai"
    model = json.loads(answers["/v1/models/"])[0]  # LLM_MODEL, on the operator's server
    assert model["model_endpoint"] == "http://redacted"
    embedding = json.loads(answers["the other agent"])["embedding_config"]
    assert (embedding["embedding_endpoint"], embedding["handle"]) == ("https://redacted", OPENAI_EMBEDDING)
    assert json.loads(answers["its passages"])[0]["embedding_config"]["embedding_endpoint"] == "https://redacted"


def test_steps_do_not_echo_the_llm_servers_url(world):
    api, agent, folder, file, remote, sent = world
    values = ids(api, agent, folder, file, sent)
    for path in STEP_ROUTES:
        text = api.http.get(re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)).text
        assert not leaked(text), path


def test_healthz_tells_anonymous_callers_nothing_inside(world):
    api, *_ = world
    import httpx

    answer = httpx.get(api.http.base_url.join("/healthz"))
    assert answer.json() == {"status": "ok"} and not leaked(answer.text)


@pytest.mark.parametrize("url, public", [
    (None, "https://api.openai.com/v1"),
    ("https://api.openai.com/v1", "https://api.openai.com/v1"),
    ("https://sk-proj-123@api.openai.com/v1", "https://api.openai.com/v1"),
    ("http://user:key@10.0.0.5:8000/v1", "http://redacted"),
    ("https://gateway.example/v1/account-42/openai?token=abc", "https://redacted"),
])
def test_public_endpoint_shows_openai_or_nothing_of_the_configured_url(url, public):
    assert letta.public_endpoint(url) == public


def test_a_connection_error_names_the_llm_server_without_its_credentials():
    import httpx
    import openai

    from memory.openai_api import translate_error

    request = httpx.Request("POST", f"http://{LLM_USER}:{LLM_PASSWORD}@127.0.0.1:9/v1/chat/completions")
    error = translate_error(openai.APIConnectionError(request=request))
    assert error.message.startswith("could not connect to LLM server at http://127.0.0.1:9")
    assert not leaked(error.message)
