"""Export an agent as an agent file and import it as a new one with the same memory and history."""

import json

import pytest
from letta_client import BadRequestError

from agents.models import Agent
from tests.fake_llm import tool_call

pytestmark = pytest.mark.django_db(transaction=True)


def history(api, agent_id: str) -> list[tuple]:
    return [(m.message_type, m.model_dump(exclude={"id", "run_id", "step_id", "otid", "sender_id", "name"}))
            for m in api.sdk.agents.messages.list(agent_id, order="asc", limit=1000)]


def test_export_then_import_gives_the_same_agent(api, live_llm):
    agent = api.sdk.agents.create(name="Sam", tags=["demo"], context_window_limit=12000, model="gpt-4.1",
                                  memory_blocks=[{"label": "persona", "value": "I am Sam.", "description": "me"},
                                                 {"label": "human", "value": "Name: Ada", "limit": 300}])
    live_llm.enqueue(tool_call("core_memory_append", {"label": "human", "content": "Likes chess", "request_heartbeat": True},
                          content="Worth keeping."),
                tool_call("send_message", {"message": "Noted!"}))
    api.sdk.agents.messages.create(agent.id, input="I like chess")
    live_llm.enqueue(tool_call("send_message", {"message": "Hello again"}))
    api.sdk.agents.messages.create(agent.id, input="hi")
    api.sdk.agents.passages.create(agent.id, text="Ada's birthday is in December.", tags=["dates"])

    Agent.objects.filter(pk=int(agent.id.removeprefix("agent-"))).update(heartbeat_fallback=True, tool_protocol="json")
    exported = api.sdk.agents.export_file(agent.id, extra_query={"include_passages": True})
    file = json.loads(exported)
    assert [b["label"] for b in file["blocks"]] == ["persona", "human"]
    assert len(file["agents"][0]["messages"]) == 9  # with a heartbeat and the send_message results

    imported = api.sdk.agents.import_file(file=("sam.af", exported.encode(), "application/json"))
    [copy_id] = imported.agent_ids
    original, copy = api.sdk.agents.retrieve(agent.id), api.sdk.agents.retrieve(copy_id)
    assert copy_id != agent.id
    assert (copy.name, copy.tags, copy.model, copy.llm_config.context_window) == ("Sam", ["demo"], "openai/gpt-4.1", 12000)
    assert copy.system == original.system
    assert Agent.objects.filter(pk=int(copy_id.removeprefix("agent-")), heartbeat_fallback=True,
                                tool_protocol="json").exists()
    assert [(b.label, b.value, b.limit, b.description) for b in copy.blocks] == [
        (b.label, b.value, b.limit, b.description) for b in original.blocks]
    assert {b.id for b in copy.blocks}.isdisjoint({b.id for b in original.blocks})  # copies, not shared
    assert history(api, copy_id) == history(api, agent.id)
    assert len(copy.message_ids) == len(original.message_ids)
    assert [p.text for p in api.sdk.agents.passages.list(copy_id)] == ["Ada's birthday is in December."]
    found = api.sdk.agents.passages.search(copy_id, query="when is her birthday")
    assert found.results[0].content == "Ada's birthday is in December."

    # the copy goes on from where the original was: its prompt holds the same history
    Agent.objects.update(tool_protocol="native")
    live_llm.enqueue(tool_call("send_message", {"message": "one"}), tool_call("send_message", {"message": "two"}))
    api.sdk.agents.messages.create(agent.id, input="next")
    api.sdk.agents.messages.create(copy_id, input="next")
    first, second = live_llm.chat_requests()[-2:]
    assert first["messages"][:-1] == second["messages"][:-1]  # all but the new message, which has its own time


def test_import_options_and_a_bad_file(api):
    agent = api.sdk.agents.create(name="Sam", memory_blocks=[{"label": "persona", "value": "I am Sam."}])
    exported = api.sdk.agents.export_file(agent.id, scrub_messages=True)
    imported = api.sdk.agents.import_file(file=("sam.af", exported.encode()), name="Sammy", append_copy_suffix=True,
                                          embedding="local/all-MiniLM-L6-v2")
    copy = api.sdk.agents.retrieve(imported.agent_ids[0])
    assert copy.name == "Sammy_copy" and copy.message_ids == []

    with pytest.raises(BadRequestError) as error:
        api.sdk.agents.import_file(file=("x.af", b"not json"))
    assert "Not a JSON agent file" in error.value.body["detail"]
    with pytest.raises(BadRequestError) as error:
        api.sdk.agents.import_file(file=("x.af", json.dumps({"agents": [{"id": "agent-0", "name": "x",
                                                                         "block_ids": ["block-9"]}]}).encode()))
    assert "lacks" in error.value.body["detail"]


def test_import_a_letta_style_file(api):
    """A file as Letta writes it: content parts, packed JSON user messages, a stored system prompt."""
    file = {
        "agents": [{
            "id": "agent-0", "name": "From Letta", "system": "You are a Letta agent.", "agent_type": "memgpt_v2_agent",
            "llm_config": {"model": "gpt-4o-mini", "model_endpoint_type": "openai", "context_window": 32000},
            "embedding_config": {"embedding_model": "all-MiniLM-L6-v2", "handle": "local/all-MiniLM-L6-v2"},
            "block_ids": ["block-0"], "in_context_message_ids": ["message-0", "message-1", "message-2", "message-3"],
            "messages": [
                {"id": "message-0", "role": "system", "content": [{"type": "text", "text": "You are a Letta agent."}]},
                {"id": "message-1", "role": "user",
                 "content": [{"type": "text", "text": '{"type": "user_message", "message": "hello", "time": "x"}'}]},
                {"id": "message-2", "role": "assistant", "content": [{"type": "text", "text": "Greet back."}],
                 "tool_calls": [{"id": "call-1", "type": "function",
                                 "function": {"name": "send_message", "arguments": '{"message": "Hi!"}'}}]},
                {"id": "message-3", "role": "tool", "tool_call_id": "call-1", "name": "send_message",
                 "content": [{"type": "text", "text": '{"status": "OK", "message": "None", "time": "x"}'}]},
            ],
        }],
        "blocks": [{"id": "block-0", "label": "persona", "value": "I am from Letta.", "limit": 5000}],
        "tools": [], "groups": [], "files": [], "sources": [], "mcp_servers": [],
    }
    imported = api.sdk.agents.import_file(file=("letta.af", json.dumps(file).encode()))
    agent_id = imported.agent_ids[0]
    messages = api.sdk.agents.messages.list(agent_id, order="asc").items
    assert [(m.message_type, getattr(m, "content", None) or getattr(m, "reasoning", None)) for m in messages] == [
        ("user_message", "hello"), ("reasoning_message", "Greet back."), ("assistant_message", "Hi!")]
    assert api.sdk.agents.retrieve(agent_id).llm_config.context_window == 32000
