"""A person's model servers: keys encrypted at rest, their models listed with context windows (vLLM,
Ollama, llama.cpp, OpenAI), servers that are down or slow, nobody else's servers, and an agent's
turn sent to the server its model handle names."""

import time

import pytest
from django.core.cache import cache

from agents.errors import ModelServerInvalid
from agents.llm import agent_model_name, get_llm_for
from agents.llm.catalog import model_catalog
from agents.llm.keys import KeyUnreadable, key_decrypt, key_encrypt
from agents.models import ModelServer
from agents.services import agent_create, model_server_create, model_server_delete, model_server_update, turn_enqueue
from tests.factories import make_user
from tests.fake_llm import FakeLLM, tool_call
from tests.helpers import wait_for_runs

pytestmark = pytest.mark.django_db
SECRET = "sk-very-secret-4242"


@pytest.fixture(autouse=True)
def fresh_listings():
    cache.clear()  # a listing cached by another test of the same address
    yield
    cache.clear()


@pytest.fixture
def servers():
    """Three scripted servers: one like vLLM, one like Ollama, one like llama.cpp."""
    with FakeLLM() as vllm, FakeLLM() as ollama, FakeLLM() as llamacpp:
        vllm.models = ["meta-llama/Llama-3.1-8B-Instruct"]
        vllm.model_fields = {"meta-llama/Llama-3.1-8B-Instruct": {"max_model_len": 32768}}
        ollama.models = ["llama3.2:3b", "qwen2.5:7b", "mystery:1b", "nomic-embed-text"]
        ollama.shown = {
            "llama3.2:3b": {"model_info": {"general.architecture": "llama", "llama.context_length": 131072}},
            "qwen2.5:7b": {"parameters": "stop \"<|im_end|>\"\nnum_ctx 16384",
                           "model_info": {"general.architecture": "qwen2", "qwen2.context_length": 32768}},
        }
        llamacpp.models = ["qwen.gguf"]
        llamacpp.model_fields = {"qwen.gguf": {"meta": {"n_ctx_train": 131072}}}
        llamacpp.props = {"default_generation_settings": {"n_ctx": 4096}}
        yield vllm, ollama, llamacpp


def test_a_key_is_stored_encrypted_and_read_back_only_with_the_same_secret(settings):
    user = make_user()
    server = model_server_create(owner=user, name="box", kind="vllm", base_url="http://gpu-box:8000/v1/", api_key=SECRET)
    stored = ModelServer.objects.get(pk=server.pk)
    assert SECRET not in stored.api_key_encrypted and stored.api_key_encrypted
    assert stored.base_url == "http://gpu-box:8000/v1"
    assert key_decrypt(stored.api_key_encrypted) == SECRET
    assert key_encrypt("") == "" and key_decrypt("") == ""
    settings.MODEL_KEYS_SECRET = "another secret"
    with pytest.raises(KeyUnreadable):
        key_decrypt(stored.api_key_encrypted)
    assert key_decrypt(key_encrypt(SECRET)) == SECRET  # under the new secret


def test_a_server_with_bad_fields_is_refused_field_by_field():
    user = make_user()
    cases = [({"name": "openai"}, "name"), ({"name": "my box"}, "name"), ({"name": "a/b"}, "name"),
             ({"base_url": "ftp://box/v1"}, "base_url"), ({"base_url": "box:8000"}, "base_url"),
             ({"base_url": "http://user:key@box/v1"}, "base_url"), ({"kind": "cohere"}, "kind"),
             ({"api_key": "two words"}, "api_key")]
    for change, field in cases:
        with pytest.raises(ModelServerInvalid) as refused:
            model_server_create(owner=user, **{"name": "box", "base_url": "http://box/v1", **change})
        assert list(refused.value.errors) == [field], change
    model_server_create(owner=user, name="box", base_url="https://box/v1")
    with pytest.raises(ModelServerInvalid) as taken:
        model_server_create(owner=user, name="box", base_url="https://other/v1")
    assert taken.value.taken
    model_server_create(owner=make_user(), name="box", base_url="https://box/v1")  # names are per person


def test_every_server_is_listed_with_the_windows_it_reports(servers, llm, settings):
    vllm, ollama, llamacpp = servers
    user = make_user()
    model_server_create(owner=user, name="gpu", kind="vllm", base_url=vllm.base_url)
    model_server_create(owner=user, name="laptop", kind="ollama", base_url=ollama.base_url, api_key=SECRET)
    model_server_create(owner=user, name="cpp", kind="llamacpp", base_url=llamacpp.base_url)
    catalog = model_catalog(owner=user)
    assert catalog.failures == {}
    windows = {m.handle: m.context_window for m in catalog.models}
    assert windows == {
        # the playground's server: LLM_MODEL first, OpenAI's known windows, no embedding model
        "openai/gpt-4o-mini": 128_000, "openai/gpt-4.1": 1_047_576, "openai/fake-model": None,
        "cpp/qwen.gguf": 4096,  # the window llama.cpp serves (/props), not the one the model was trained for
        "gpu/meta-llama/Llama-3.1-8B-Instruct": 32768,  # vLLM's max_model_len
        "laptop/llama3.2:3b": 131072, "laptop/qwen2.5:7b": 16384, "laptop/mystery:1b": None,  # Ollama's /api/show
    }
    assert [m.handle for m in catalog.models][0] == "openai/gpt-4o-mini"
    shows = [r for r in ollama.requests if r["path"] == "/api/show"]
    assert sorted(r["json"]["model"] for r in shows) == ["llama3.2:3b", "mystery:1b", "qwen2.5:7b"]
    assert all(r["headers"]["authorization"] == f"Bearer {SECRET}" for r in ollama.requests)
    # asked again within a minute: the answers are reused
    model_catalog(owner=user)
    assert [r["path"] for r in vllm.requests] == ["/v1/models"]


def test_an_openai_server_gets_the_windows_we_know(llm):
    user = make_user()
    model_server_create(owner=user, name="my-openai", kind="openai", base_url=llm.base_url, api_key=SECRET)
    catalog = model_catalog(owner=user)
    assert catalog.find("my-openai/gpt-4.1").context_window == 1_047_576
    assert catalog.find("gpt-4o-mini").handle == "openai/gpt-4o-mini"  # a bare name is the playground's


def test_a_server_that_is_down_or_slow_is_named_and_the_others_listed(servers, llm, settings):
    settings.MODEL_LIST_TIMEOUT = 0.5
    vllm, slow, _ = servers
    slow.models_delay = 30
    with FakeLLM() as gone:
        down_url = gone.base_url
    user = make_user()
    model_server_create(owner=user, name="gpu", kind="vllm", base_url=vllm.base_url)
    model_server_create(owner=user, name="slow", base_url=slow.base_url)
    model_server_create(owner=user, name="down", base_url=down_url)
    started = time.monotonic()
    catalog = model_catalog(owner=user)
    assert time.monotonic() - started < 5  # bounded by the time-out, not by the slow server's 30 s
    assert sorted(catalog.failures) == ["down", "slow"]
    assert "connect" in catalog.failures["down"] and "timed out" in catalog.failures["slow"]
    assert {m.server for m in catalog.models} == {"openai", "gpu"}
    # asked again at once: the failures are remembered, nobody waits for the slow server again
    started = time.monotonic()
    assert sorted(model_catalog(owner=user).failures) == ["down", "slow"]
    assert time.monotonic() - started < 0.5
    assert len([r for r in slow.requests if r["path"] == "/v1/models"]) == 1


def test_the_configured_model_is_offered_while_its_server_does_not_answer(settings):
    with FakeLLM() as gone:
        settings.OPENAI_BASE_URL = gone.base_url
    settings.LLM_MODEL = "gpt-4o"
    catalog = model_catalog(owner=make_user())
    assert [(m.handle, m.context_window) for m in catalog.models] == [("openai/gpt-4o", 128_000)]
    assert list(catalog.failures) == ["openai"]


def test_nobody_sees_another_persons_servers(servers, llm):
    vllm, _, _ = servers
    owner, other = make_user(), make_user()
    model_server_create(owner=owner, name="gpu", kind="vllm", base_url=vllm.base_url, api_key=SECRET)
    assert not [m for m in model_catalog(owner=other).models if m.server == "gpu"]
    agent = agent_create(owner=other, name="Eve", model="gpu/meta-llama/Llama-3.1-8B-Instruct")
    # the handle names no server of Eve's owner: the whole name is a model of the playground's server
    assert get_llm_for(agent) is get_llm_for(agent_create(owner=other, name="Bob"))
    assert agent_model_name(agent) == "gpu/meta-llama/Llama-3.1-8B-Instruct"


def test_a_server_in_use_is_not_deleted_and_its_name_stays():
    user = make_user()
    server = model_server_create(owner=user, name="gpu", base_url="http://gpu/v1", api_key=SECRET)
    agent_create(owner=user, name="Sam", model="gpu/llama")
    with pytest.raises(ValueError, match="Sam uses gpu"):
        model_server_delete(server=server)
    model_server_update(server=server, api_key="sk-new", base_url="http://gpu:9000/v1")
    server.refresh_from_db()
    assert (server.name, server.base_url, key_decrypt(server.api_key_encrypted)) == ("gpu", "http://gpu:9000/v1", "sk-new")
    model_server_update(server=server, api_key="")
    assert ModelServer.objects.get(pk=server.pk).api_key_encrypted == ""


@pytest.mark.django_db(transaction=True)
def test_an_agent_on_a_named_server_sends_its_turn_there(llm, celery_worker):
    with FakeLLM() as mine:
        user = make_user()
        model_server_create(owner=user, name="gpu", kind="vllm", base_url=mine.base_url, api_key=SECRET)
        agent = agent_create(owner=user, name="Sam", model="gpu/meta-llama/Llama-3.1-8B-Instruct")
        mine.enqueue(tool_call("send_message", {"message": "Hello from the GPU box"}))
        turn_enqueue(agent=agent, text="hi")
        [run] = wait_for_runs(agent)
        assert run.status == "completed", run.error
        [request] = mine.chat_requests()
        assert request["model"] == "meta-llama/Llama-3.1-8B-Instruct"  # the server's name stays with us
        assert mine.last_request()["headers"]["authorization"] == f"Bearer {SECRET}"
        assert llm.chat_requests() == []
        # the operator's server keeps the agents that name none
        other = agent_create(owner=user, name="Ann")
        llm.enqueue(tool_call("send_message", {"message": "Hello from the default"}))
        turn_enqueue(agent=other, text="hi")
        [run] = wait_for_runs(other)
        assert run.status == "completed" and llm.chat_requests()[0]["model"] == "gpt-4o-mini"
        assert len(mine.chat_requests()) == 1
