"""Exact counts through a server's /tokenize (vLLM's, llama.cpp's), a tier at a time; an estimate,
marked approximate, where a server has none."""

import pytest
from django.urls import reverse

from agents.engine.context import TIERS, compile_context
from agents.engine.tools import BASE_SCHEMAS
from agents.engine.types import MessageView
from agents.llm.tokenize import ServerTokenizer, TokenizeEndpoint, server_root, tokenizer_for
from agents.selectors import agent_context
from agents.services import agent_create
from memory.tokens import TiktokenTokenizer, tokenizer_for_model
from tests.agents.in_memory_store import make_state
from tests.factories import make_user
from tests.fake_llm import fake_tokens


def tokenize_calls(server) -> int:
    return sum(1 for r in server.requests if r["path"] == "/tokenize")


def compiled(state, tokenizer, approximate=True):
    return compile_context(state, tools=BASE_SCHEMAS, tokenizer=tokenizer, approximate=approximate)


def test_the_root_is_the_base_url_without_v1():
    assert server_root("http://h:8000/v1") == "http://h:8000"
    assert server_root("http://h:8000/v1/") == "http://h:8000"
    assert server_root("http://h/llm/v1") == "http://h/llm"


@pytest.mark.parametrize("kind", ["vllm", "llamacpp"])
def test_each_tier_is_counted_by_the_server_in_one_call_a_changed_tier(fake_llm, kind):
    fake_llm.tokenizer = kind
    state = make_state(model="my-llama", messages=[
        MessageView(1, "user", "user_message", "Hello there, Sam!"), MessageView(2, "assistant", "assistant", "Hi!")])
    tokenizer, approximate = tokenizer_for("my-llama", base_url=fake_llm.base_url)
    assert isinstance(tokenizer, ServerTokenizer) and approximate

    context = compiled(state, tokenizer)
    local = compiled(state, TiktokenTokenizer("o200k_base"))
    tokens = context.tokens
    assert tokens["approximate"] is False and tokens["encoding"] == f"{kind} server tokenizer"
    assert tokens["prompt_total"] == sum(tokens[t] for t in TIERS)
    # the text of a tier is the server's count; the chat format's overhead stays the convention's
    instructions = state.system + "\n\n"
    o200k = TiktokenTokenizer("o200k_base")
    assert tokens["system_instructions"] == local.tokens["system_instructions"] - o200k.count(instructions) \
        + len(fake_tokens(instructions))
    assert tokens["messages"] != local.tokens["messages"]
    assert tokenize_calls(fake_llm) <= 1 + len(TIERS)  # a probe, and a call a tier

    before = tokenize_calls(fake_llm)
    assert compiled(state, tokenizer).tokens == tokens  # nothing changed: every tier from the cache
    assert tokenize_calls(fake_llm) == before
    state.messages.append(MessageView(3, "user", "user_message", "One more message"))
    compiled(state, tokenizer)
    assert tokenize_calls(fake_llm) == before + 1  # the messages tier alone changed


def test_a_server_without_tokenize_is_estimated_marked_approximate_and_asked_once(fake_llm):
    state = make_state(model="my-llama")
    tokenizer, _ = tokenizer_for("my-llama", base_url=fake_llm.base_url)
    first = compiled(state, tokenizer).tokens
    assert first["approximate"] is True and first["encoding"] == "o200k_base"
    assert first == compiled(state, TiktokenTokenizer("o200k_base")).tokens
    compiled(state, tokenizer)
    assert tokenize_calls(fake_llm) == 1 and fake_llm.unexpected == 0


def test_openai_models_keep_tiktoken_and_ask_nobody(fake_llm):
    tokenizer, approximate = tokenizer_for("gpt-4o-mini", base_url=fake_llm.base_url)
    assert (tokenizer, approximate) == tokenizer_for_model("gpt-4o-mini")
    assert tokenizer_for("my-llama", base_url=None)[1] is True  # api.openai.com has no /tokenize


def test_a_server_that_stops_answering_falls_back_to_the_estimate(fake_llm):
    fake_llm.tokenizer = "vllm"
    endpoint = TokenizeEndpoint(base_url=fake_llm.base_url, model="m", timeout=2)
    assert endpoint.kind() == "vllm"
    tokenizer = ServerTokenizer(TokenizeEndpoint(base_url=fake_llm.base_url, model="m", timeout=2))
    fake_llm.tokenizer = None  # every count now fails
    assert compiled(make_state(model="m", system="A fresh system prompt."), tokenizer).tokens["approximate"] is True


@pytest.mark.django_db
def test_the_inspector_says_exact_server_tokenizer(client, llm):
    llm.tokenizer = "llamacpp"
    agent = agent_create(owner=make_user(), name="Sam", persona="I am Sam.", model="qwen2.5-7b")
    client.force_login(agent.owner)
    body = client.get(reverse("inspector", args=[agent.pk])).content.decode()
    assert "exact (llamacpp server tokenizer)" in body
    assert agent_context(agent=agent).tokens["approximate"] is False
