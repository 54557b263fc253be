"""The Model servers page (add, replace a key, delete; errors in place; keys never shown) and the
agent settings that offer the servers' models and take their context windows."""

import pytest
from django.core.cache import cache
from django.urls import reverse

from agents.llm.keys import key_decrypt
from agents.models import ModelServer
from agents.services import agent_create, model_server_create
from tests.factories import make_user
from tests.fake_llm import FakeLLM

pytestmark = pytest.mark.django_db
SECRET = "sk-page-secret-5150"
LLAMA = "meta-llama/Llama-3.1-8B-Instruct"
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def vllm():
    cache.clear()
    with FakeLLM() as server:
        server.models = [LLAMA]
        server.model_fields = {LLAMA: {"max_model_len": 32768}}
        yield server
    cache.clear()


@pytest.fixture
def user_client(client):
    user = make_user()
    client.force_login(user)
    client.user = user
    return client


def test_add_replace_the_key_and_delete_a_server_never_showing_its_key(user_client, vllm):
    url = reverse("model-servers")
    assert "No servers of your own yet" in user_client.get(url).content.decode()
    added = user_client.post(url, {"name": "gpu", "kind": "vllm", "base_url": vllm.base_url, "api_key": SECRET}, **HTMX)
    page = added.content.decode()
    assert added.status_code == 200 and "gpu" in page and "a key is set" in page and SECRET not in page
    server = ModelServer.objects.get(owner=user_client.user, name="gpu")
    assert key_decrypt(server.api_key_encrypted) == SECRET
    assert SECRET not in user_client.get(url).content.decode()

    replaced = user_client.post(reverse("model-server-key", args=[server.pk]), {"api_key": SECRET + "-new"}, **HTMX)
    assert replaced.status_code == 200 and SECRET not in replaced.content.decode()
    assert key_decrypt(ModelServer.objects.get(pk=server.pk).api_key_encrypted) == SECRET + "-new"
    empty = user_client.post(reverse("model-server-key", args=[server.pk]), {"api_key": ""}, **HTMX)
    assert empty.status_code == 422 and "Enter the new key" in empty.content.decode()

    agent = agent_create(owner=user_client.user, name="Sam", model=f"gpu/{LLAMA}")
    in_use = user_client.post(reverse("model-server-delete", args=[server.pk]), **HTMX)
    assert in_use.status_code == 422 and "Sam uses gpu" in in_use.content.decode()
    agent.delete()
    assert user_client.post(reverse("model-server-delete", args=[server.pk]), **HTMX).status_code == 200
    assert not ModelServer.objects.filter(pk=server.pk).exists()


def test_an_invalid_server_comes_back_with_its_errors_in_place(user_client):
    url = reverse("model-servers")
    response = user_client.post(url, {"name": "openai", "kind": "vllm", "base_url": "ftp://box/v1", "api_key": SECRET},
                                **HTMX)
    page = response.content.decode()
    assert response.status_code == 422
    assert "names the playground&#x27;s own server" in page and "An http:// or https:// address" in page
    assert SECRET not in page  # the key field is not filled back in
    model_server_create(owner=user_client.user, name="gpu", base_url="http://gpu/v1")
    taken = user_client.post(url, {"name": "gpu", "kind": "vllm", "base_url": "http://gpu/v1"}, **HTMX)
    assert taken.status_code == 422 and "You have a model server named" in taken.content.decode()


def test_nobody_reaches_another_persons_servers(user_client):
    theirs = model_server_create(owner=make_user(), name="theirs", base_url="http://theirs/v1", api_key=SECRET)
    assert "theirs" not in user_client.get(reverse("model-servers")).content.decode()
    for name in ("model-server-key", "model-server-delete"):
        assert user_client.post(reverse(name, args=[theirs.pk]), {"api_key": "x"}).status_code == 404
    assert key_decrypt(ModelServer.objects.get(pk=theirs.pk).api_key_encrypted) == SECRET


def test_the_models_list_names_windows_and_a_server_that_is_down(user_client, vllm, llm):
    with FakeLLM() as gone:
        down = gone.base_url
    model_server_create(owner=user_client.user, name="gpu", kind="vllm", base_url=vllm.base_url)
    model_server_create(owner=user_client.user, name="down", base_url=down)
    page = user_client.get(reverse("model-server-models"), **HTMX).content.decode()
    assert f"gpu/{LLAMA}" in page and "32768 tokens" in page and "openai/gpt-4o-mini" in page
    assert "down could not be listed" in page


def test_agent_settings_offer_the_models_and_take_their_window(user_client, vllm, llm):
    model_server_create(owner=user_client.user, name="gpu", kind="vllm", base_url=vllm.base_url)
    agent = agent_create(owner=user_client.user, name="Sam", context_window=8192)
    url = reverse("agent-settings", args=[agent.pk])
    form = user_client.get(url, **HTMX).content.decode()
    assert 'list="model-choices"' in form and f'value="gpu/{LLAMA}" label="32768 tokens"' in form

    def fields(**change):
        return {"name": agent.name, "description": "", "tags": "", "model": "", "system": agent.system,
                "context_window": 8192, "temperature": 0.7, "max_steps": 10, "warning_share": 0.7, "evict_share": 0.5,
                "completion_reserve": 1024, "tool_protocol": "native", **change}

    # the window left as it was: the model's own, as its server reports it
    assert user_client.post(url, fields(model=f"gpu/{LLAMA}"), **HTMX).status_code == 200
    agent.refresh_from_db()
    assert (agent.model, agent.context_window) == (f"gpu/{LLAMA}", 32768)
    # a larger window than the model's is refused in place
    response = user_client.post(url, fields(model=f"gpu/{LLAMA}", context_window=65536), **HTMX)
    assert response.status_code == 422 and "has a window of 32768 tokens" in response.content.decode()
    agent.refresh_from_db()
    assert agent.context_window == 32768
