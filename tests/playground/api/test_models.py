"""/v1/providers and /v1/models against the live stack: a person's model servers (keys in, never out),
every model of every server with its context window through the official SDK, a server that is
down, nobody else's servers, and a turn sent to the server an agent's handle names."""

import json

import pytest

from tests.fake_llm import FakeLLM, tool_call

pytestmark = pytest.mark.django_db(transaction=True)
SECRET = "sk-live-secret-7731"
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"


@pytest.fixture
def vllm():
    with FakeLLM() as server:
        server.models = [LLAMA]
        server.model_fields = {LLAMA: {"max_model_len": 32768}}
        yield server


def add(api, **fields):
    return api.http.post("/v1/providers/", json={"provider_type": "vllm", "api_key": SECRET, **fields})


def test_providers_take_a_key_and_never_give_it_back(api, other, vllm):
    created = add(api, name="gpu", base_url=vllm.base_url)
    assert created.status_code == 201, created.text
    provider = created.json()
    assert provider["id"].startswith("provider-") and provider["api_key"] is None and provider["api_key_set"]
    assert (provider["name"], provider["provider_type"], provider["base_url"]) == ("gpu", "vllm", vllm.base_url)
    url = f"/v1/providers/{provider['id']}"
    answers = [created.text, api.http.get("/v1/providers/").text, api.http.get(url).text,
               api.http.patch(url, json={"api_key": SECRET + "-2"}).text, api.http.get("/v1/models/").text]
    agent = api.sdk.agents.create(name="Sam", model=f"gpu/{LLAMA}", memory_blocks=[])
    answers.append(api.http.get(f"/v1/agents/{agent.id}").text)
    assert not [text for text in answers if SECRET in text]
    assert json.loads(answers[3])["api_key_set"]

    assert add(api, name="gpu", base_url=vllm.base_url).status_code == 409
    refused = add(api, name="box", base_url="file:///etc/passwd")
    assert refused.status_code == 400 and "http" in refused.text
    assert add(api, name="openai", base_url=vllm.base_url).status_code == 400
    in_use = api.http.delete(url)
    assert in_use.status_code == 409 and "Sam" in in_use.text
    # nobody else's
    assert other.http.get("/v1/providers/").json() == []
    for answer in (other.http.get(url), other.http.patch(url, json={"api_key": "x"}), other.http.delete(url)):
        assert answer.status_code == 404
    assert "gpu" not in [m.provider_name for m in other.sdk.models.list()]
    api.sdk.agents.delete(agent.id)
    assert api.http.delete(url).status_code == 200
    assert api.http.get("/v1/providers/").json() == []


def test_models_of_every_server_with_their_windows_through_the_sdk(api, vllm):
    add(api, name="gpu", base_url=vllm.base_url)
    models = api.sdk.models.list()  # the SDK validates every field strictly
    handles = [m.handle for m in models]
    assert handles[0] == "openai/gpt-4o-mini"  # LLM_MODEL first
    assert set(handles) == {"openai/gpt-4o-mini", "openai/gpt-4.1", "openai/fake-model", f"gpu/{LLAMA}"}
    llama = models[handles.index(f"gpu/{LLAMA}")]
    assert (llama.model, llama.context_window, llama.provider_name, llama.provider_type) == (LLAMA, 32768, "gpu", "vllm")
    assert llama.provider_category == "byok" and llama.model_extra["context_window_known"]
    unknown = models[handles.index("openai/fake-model")]
    assert not unknown.model_extra["context_window_known"] and unknown.context_window > 0
    assert models[0].context_window == 128_000
    assert [m.handle for m in api.sdk.models.list(provider_name="gpu")] == [f"gpu/{LLAMA}"]
    assert [m.handle for m in api.sdk.models.list(provider_category=["byok"])] == [f"gpu/{LLAMA}"]


def test_a_server_that_is_down_is_named_and_the_others_listed(api, vllm):
    with FakeLLM() as gone:
        down = gone.base_url
    add(api, name="gpu", base_url=vllm.base_url)
    add(api, name="down", base_url=down)
    answer = api.http.get("/v1/models/")
    assert answer.status_code == 200
    assert answer.headers["Model-Servers-Unlisted"] == "down"
    assert {m["provider_name"] for m in answer.json()} == {"openai", "gpu"}


def test_an_agent_on_a_named_server_runs_there(api, live_llm, vllm):
    add(api, name="gpu", base_url=vllm.base_url)
    agent = api.sdk.agents.create(name="Sam", model=f"gpu/{LLAMA}", context_window_limit=16000)
    assert agent.model == f"gpu/{LLAMA}"
    assert (agent.llm_config.model, agent.llm_config.api_model_endpoint_type, agent.llm_config.handle) == (
        LLAMA, "vllm", f"gpu/{LLAMA}")
    vllm.enqueue(tool_call("send_message", {"message": "Hello from the GPU box"}))
    response = api.sdk.agents.messages.create(agent.id, input="hello")
    assert response.stop_reason.stop_reason == "end_turn"
    [request] = vllm.chat_requests()
    assert request["model"] == LLAMA
    assert vllm.last_request()["headers"]["authorization"] == f"Bearer {SECRET}"
    assert live_llm.chat_requests() == []
