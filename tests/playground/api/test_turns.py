"""Turns through the official SDK: send and wait, stream, send async and poll, cancel, reset."""

import json

import pytest
from letta_client import APIStatusError
from letta_client.types import ToolReturnMessage
from letta_client.types.agents import (AssistantMessage, ReasoningMessage, Run, SystemMessage, ToolCallMessage,
                                       UserMessage)
from letta_client.types.agents.letta_streaming_response import LettaStopReason, LettaUsageStatistics

from agents.models import Run as RunRow
from tests.fake_llm import delay, tool_call
from tests.helpers import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def script_memory_edit(live_llm) -> None:
    live_llm.enqueue(
        tool_call("core_memory_append", {"label": "human", "content": "Likes chess", "request_heartbeat": True},
                  content="She likes chess; worth keeping."),
        tool_call("send_message", {"message": "Noted, Ada!"}, content="Now I answer."),
    )


def kinds(messages) -> list[tuple[str, str]]:
    """(type, the text that matters) of each message, to compare a stream with a response."""
    out = []
    for m in messages:
        if isinstance(m, ReasoningMessage):
            out.append(("reasoning", m.reasoning))
        elif isinstance(m, ToolCallMessage):
            out.append(("tool_call", f"{m.tool_call.name} {m.tool_call.arguments}"))
        elif isinstance(m, ToolReturnMessage):
            out.append(("tool_return", m.status))
        elif isinstance(m, AssistantMessage):
            out.append(("assistant", m.content))
    return out


EXPECTED = [
    ("reasoning", "She likes chess; worth keeping."),
    ("tool_call", 'core_memory_append {"label": "human", "content": "Likes chess", "request_heartbeat": true}'),
    ("tool_return", "success"),
    ("reasoning", "Now I answer."),
    ("assistant", "Noted, Ada!"),
]


@pytest.fixture
def agent(api):
    return api.sdk.agents.create(name="Sam", model="openai/gpt-4o-mini", memory_blocks=[
        {"label": "persona", "value": "I am Sam."}, {"label": "human", "value": "Name: Ada"}])


def test_send_returns_the_turn_as_letta_messages(api, live_llm, agent):
    script_memory_edit(live_llm)
    response = api.sdk.agents.messages.create(agent.id, messages=[{"role": "user", "content": "I love chess"}])

    assert kinds(response.messages) == EXPECTED
    assert [type(m) for m in response.messages] == [ReasoningMessage, ToolCallMessage, ToolReturnMessage,
                                                    ReasoningMessage, AssistantMessage]
    call, result = response.messages[1], response.messages[2]
    assert result.tool_call_id == call.tool_call.tool_call_id and result.name == "core_memory_append"
    assert response.stop_reason.stop_reason == "end_turn"
    usage = response.usage
    assert usage.step_count == 2 and usage.prompt_tokens > 0 and usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    [run_id] = usage.run_ids
    assert all(m.run_id == run_id for m in response.messages)
    # our exact count of the last prompt, as the step recorded it
    step = api.sdk.runs.steps.list(run_id, order="asc").items[-1]
    assert usage.context_tokens == step.model_extra["tokens"]["prompt_total"]
    assert api.sdk.agents.blocks.retrieve("human", agent_id=agent.id).value == "Name: Ada\nLikes chess"


def test_streaming_the_same_turn_gives_the_same_messages_with_the_stored_ids(api, live_llm, agent):
    script_memory_edit(live_llm)
    chunks = list(api.sdk.agents.messages.create(agent.id, streaming=True,
                                                 messages=[{"role": "user", "content": "I love chess"}]))

    messages = chunks[:-2]
    assert kinds(messages) == EXPECTED
    assert isinstance(chunks[-2], LettaStopReason) and chunks[-2].stop_reason == "end_turn"
    assert isinstance(chunks[-1], LettaUsageStatistics) and chunks[-1].step_count == 2
    # the stream and the stored history name the same messages
    [run_id] = chunks[-1].run_ids
    stored = api.sdk.runs.messages.list(run_id).items
    assert [m.id for m in messages] == [m.id for m in stored if not isinstance(m, (UserMessage, SystemMessage))]


def test_the_deprecated_stream_route_and_raw_sse(api, live_llm, agent):
    live_llm.enqueue(tool_call("send_message", {"message": "hi"}))
    with api.http.stream("POST", f"/v1/agents/{agent.id}/messages/stream",
                         json={"messages": [{"role": "user", "content": [{"type": "text", "text": "hello"}]}]}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    payloads = [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]
    assert [p["message_type"] for p in payloads] == ["assistant_message", "stop_reason", "usage_statistics"]


def test_an_edited_block_is_in_the_next_prompt(api, live_llm, agent):
    block = api.sdk.agents.blocks.update("human", agent_id=agent.id, value="Name: Ada Lovelace\nMathematician")
    assert block.value == "Name: Ada Lovelace\nMathematician"
    live_llm.enqueue(tool_call("send_message", {"message": "Hello Ada"}))
    api.sdk.agents.messages.create(agent.id, input="hello")
    [request] = live_llm.chat_requests()
    assert "<value>\nName: Ada Lovelace\nMathematician\n</value>" in request["messages"][0]["content"]


def test_send_async_gives_a_run_to_poll_with_its_steps(api, live_llm, agent):
    live_llm.enqueue(tool_call("send_message", {"message": "later"}))
    run = api.sdk.agents.messages.create_async(agent.id, messages=[{"role": "user", "content": "hi"}])
    assert isinstance(run, Run) and run.agent_id == agent.id

    done = wait_until(lambda: (r := api.sdk.runs.retrieve(run.id)).status == "completed" and r, message="the run")
    assert done.stop_reason == "end_turn" and done.completed_at is not None
    [step] = api.sdk.runs.steps.list(run.id).items
    assert step.status == "success" and step.prompt_tokens > 0
    trace = api.http.get(f"/v1/steps/{step.id}/trace").json()
    assert trace["request_json"] == live_llm.chat_requests()[0]
    assert api.sdk.runs.usage.retrieve(run.id).total_tokens == step.total_tokens
    assert [r.id for r in api.sdk.runs.list(agent_id=agent.id).items] == [run.id]
    assert [type(m) for m in api.sdk.runs.messages.list(run.id).items] == [UserMessage, AssistantMessage]


def test_cancel_a_queued_turn(api, live_llm, agent):
    live_llm.enqueue(delay(3, tool_call("send_message", {"message": "slow"})), tool_call("send_message", {"message": "never"}))
    first = api.sdk.agents.messages.create_async(agent.id, input="one")
    wait_until(lambda: api.sdk.runs.retrieve(first.id).status == "running", message="the first turn to start")
    second = api.sdk.agents.messages.create_async(agent.id, input="two")

    outcome = api.sdk.agents.messages.cancel(agent.id)
    assert outcome == {first.id: "cancelling", second.id: "cancelled"}
    # the first turn's only step was under way: it ends as it would have, having no next step to skip
    wait_until(lambda: api.sdk.runs.retrieve(first.id).status == "completed", message="the first turn to end")
    assert api.sdk.runs.retrieve(second.id).stop_reason == "cancelled"
    assert len(live_llm.chat_requests()) == 1


def test_cancel_stops_a_running_turn_at_its_next_step(api, live_llm, agent):
    live_llm.enqueue(delay(2, tool_call("archival_memory_insert", {"content": "a note", "request_heartbeat": True})),
                     tool_call("send_message", {"message": "never"}))
    run = api.sdk.agents.messages.create_async(agent.id, input="one")
    wait_until(lambda: live_llm.chat_requests(), message="the turn's first LLM call")  # a step is under way
    assert api.sdk.agents.messages.cancel(agent.id) == {run.id: "cancelling"}
    wait_until(lambda: api.sdk.runs.retrieve(run.id).status == "cancelled", message="the turn to stop")
    assert api.sdk.runs.retrieve(run.id).stop_reason == "cancelled"
    assert len(live_llm.chat_requests()) == 1  # the step under way finished; no next one began
    kinds = [m.message_type for m in api.sdk.runs.messages.list(run.id).items]
    assert kinds.count("tool_call_message") == kinds.count("tool_return_message") == 1
    live_llm.enqueue(tool_call("send_message", {"message": "Back."}))
    reply = api.sdk.agents.messages.create(agent.id, input="two")
    assert reply.stop_reason.stop_reason == "end_turn" and live_llm.refused == []


def test_list_with_cursors_and_reset(api, live_llm, agent):
    for n in range(3):
        live_llm.enqueue(tool_call("send_message", {"message": f"answer {n}"}))
        api.sdk.agents.messages.create(agent.id, input=f"question {n}")
    texts = [m.content for m in api.sdk.agents.messages.list(agent.id, order="asc").items]
    assert texts == ["question 0", "answer 0", "question 1", "answer 1", "question 2", "answer 2"]

    newest = api.sdk.agents.messages.list(agent.id, limit=2).items  # newest first by default
    assert [m.content for m in newest] == ["answer 2", "question 2"]
    older = api.sdk.agents.messages.list(agent.id, limit=2, after=newest[-1].id).items
    assert [m.content for m in older] == ["answer 1", "question 1"]
    before = api.sdk.agents.messages.list(agent.id, order="asc", limit=2, before=newest[-1].id).items
    assert [m.content for m in before] == ["question 1", "answer 1"]
    every = [m.content for m in api.sdk.agents.messages.list(agent.id, limit=2, order="asc")]  # the SDK pages on
    assert every == texts

    assert len(api.sdk.agents.retrieve(agent.id).message_ids) == 9  # with the send_message results
    state = api.sdk.agents.messages.reset(agent.id)
    assert state.message_ids == []
    assert len(api.sdk.agents.messages.list(agent.id).items) == 6  # recall memory keeps them


def test_context_window_overview_has_our_exact_tiers(api, agent):
    context = api.http.get(f"/v1/agents/{agent.id}/context").json()
    tokens = context["tokens"]
    tiers = ["system_instructions", "tool_schemas", "core_memory", "memory_metadata", "summary", "messages"]
    assert sum(tokens[t] for t in tiers) == tokens["prompt_total"] == context["context_window_size_current"]
    assert context["num_tokens_core_memory"] == tokens["core_memory"] > 0
    assert "I am Sam." in context["core_memory"]
    assert context["context_window_size_max"] == 8192


def test_sending_without_a_message_or_to_a_missing_agent(api, agent):
    with pytest.raises(APIStatusError) as error:
        api.sdk.agents.messages.create(agent.id, messages=[{"role": "user", "content": "  "}])
    assert error.value.status_code == 400 and "empty" in error.value.body["detail"]
    with pytest.raises(APIStatusError) as error:
        api.sdk.agents.messages.create("agent-999999", input="hi")
    assert error.value.status_code == 404
    assert not RunRow.objects.exists()
