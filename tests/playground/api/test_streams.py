"""Streams as API clients read them: the answer's pieces as the model writes them (stream_tokens),
and a run's stream read again from any seq_id, live or after it ended (background runs)."""

import json
from collections import defaultdict

import pytest
from letta_client import NotFoundError
from letta_client.types import ToolReturnMessage
from letta_client.types.agents import AssistantMessage, ReasoningMessage, ToolCallMessage
from letta_client.types.agents.letta_streaming_response import LettaStopReason, LettaUsageStatistics

from agents.engine.streaming import GATHER_SECONDS
from agents.events import run_log
from memory.embedding_queue import client as redis_client
from tests.fake_llm import delay, paced, tool_call
from tests.helpers import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

SAYS = 'Noted, Ada! "Chess" it is ✓'


@pytest.fixture
def agent(api):
    return api.sdk.agents.create(name="Sam", model="openai/gpt-4o-mini", memory_blocks=[
        {"label": "persona", "value": "I am Sam."}, {"label": "human", "value": "Name: Ada"}])


def script_two_steps(live_llm, *, pause: float = 0.0, pace: float = 0.0) -> None:
    """`pace`: seconds between the pieces of each answer (more than the engine's GATHER_SECONDS: each
    piece goes out on its own)."""
    first = tool_call("core_memory_append", {"label": "human", "content": "Likes chess", "request_heartbeat": True},
                      content="She likes chess; worth keeping in memory.")
    second = tool_call("send_message", {"message": SAYS}, content="Now I answer her.")
    if pace:
        first, second = paced(pace, first), paced(pace, second)
    live_llm.enqueue(first, delay(pause, second) if pause else second)


def sse(response) -> list[dict]:
    return [json.loads(line.removeprefix("data: ")) for line in response.iter_lines()
            if line.startswith("data: ") and line != "data: [DONE]"]


def joined(chunks, kind, field) -> dict[str, str]:
    """The pieces of each message (by id) of one kind, put together."""
    text = defaultdict(str)
    for chunk in chunks:
        if isinstance(chunk, kind):
            text[chunk.id] += field(chunk) or ""
    return dict(text)


def test_stream_tokens_gives_the_answer_in_pieces_that_add_up_to_the_stored_messages(api, live_llm, agent):
    script_two_steps(live_llm, pace=GATHER_SECONDS + 0.02)
    chunks = list(api.sdk.agents.messages.create(agent.id, streaming=True, stream_tokens=True,
                                                 messages=[{"role": "user", "content": "I love chess"}]))

    assert isinstance(chunks[-2], LettaStopReason) and isinstance(chunks[-1], LettaUsageStatistics)
    pieces = chunks[:-2]
    reasoning = [c for c in pieces if isinstance(c, ReasoningMessage)]
    spoken = [c for c in pieces if isinstance(c, AssistantMessage)]
    assert len(reasoning) > 2 and len(spoken) > 1  # pieces, not whole messages
    [run_id] = chunks[-1].run_ids
    stored = api.sdk.runs.messages.list(run_id, order="asc").items
    # the pieces of each message add up to it as it was stored, under its stored id
    assert joined(pieces, ReasoningMessage, lambda c: c.reasoning) == {
        m.id: m.reasoning for m in stored if isinstance(m, ReasoningMessage)}
    assert joined(pieces, AssistantMessage, lambda c: c.content) == {
        m.id: m.content for m in stored if isinstance(m, AssistantMessage)} == {spoken[0].id: SAYS}
    [call] = [m for m in stored if isinstance(m, ToolCallMessage)]
    assert joined(pieces, ToolCallMessage, lambda c: c.tool_call.arguments) == {call.id: call.tool_call.arguments}
    streamed_calls = [c for c in pieces if isinstance(c, ToolCallMessage)]
    assert streamed_calls[0].tool_call.name == "core_memory_append"
    assert {c.tool_call.tool_call_id for c in streamed_calls} == {call.tool_call.tool_call_id}
    # a tool's result is whole, once; and nothing of the answers comes twice
    assert [c.status for c in pieces if isinstance(c, ToolReturnMessage)] == ["success"]
    assert all(isinstance(c, (ReasoningMessage, AssistantMessage, ToolCallMessage, ToolReturnMessage)) for c in pieces)
    numbers = [c.seq_id for c in pieces]
    assert numbers == sorted(numbers) and len(set(numbers)) == len(numbers)


def test_without_stream_tokens_each_message_comes_whole_with_its_seq_id(api, live_llm, agent):
    script_two_steps(live_llm)
    chunks = list(api.sdk.agents.messages.create(agent.id, streaming=True, use_assistant_message=False,
                                                 messages=[{"role": "user", "content": "I love chess"}]))
    pieces = chunks[:-2]
    assert [type(c).__name__ for c in pieces] == ["ReasoningMessage", "ToolCallMessage", "ToolReturnMessage",
                                                  "ReasoningMessage", "ToolCallMessage", "ToolReturnMessage"]
    assert json.loads(pieces[-2].tool_call.arguments)["message"] == SAYS  # send_message as a tool call, as asked
    assert all(c.seq_id for c in pieces) and [c.seq_id for c in pieces] == sorted(c.seq_id for c in pieces)


def test_a_dropped_stream_is_read_on_from_its_last_seq_id_and_every_event_comes_once(api, live_llm, agent):
    script_two_steps(live_llm, pause=3.0)
    body = {"messages": [{"role": "user", "content": "I love chess"}], "streaming": True, "background": True,
            "stream_tokens": True}
    first = []
    with api.http.stream("POST", f"/v1/agents/{agent.id}/messages", json=body) as response:
        for line in response.iter_lines():
            if line.startswith("data: "):
                first.append(json.loads(line.removeprefix("data: ")))
                if first[-1]["message_type"] == "tool_return_message":
                    break  # the client goes away mid-turn; the turn goes on
    run_id, last = first[-1]["run_id"], first[-1]["seq_id"]

    # the SDK's retrieve-stream route, from the last seq_id seen: the rest, live
    rest = list(api.sdk.runs.messages.stream(run_id, starting_after=last))
    assert isinstance(rest[-2], LettaStopReason) and rest[-2].stop_reason == "end_turn"
    rest_seq = [c.seq_id for c in rest[:-2]]
    assert rest_seq and min(rest_seq) > last
    assert joined(rest[:-2], AssistantMessage, lambda c: c.content) .popitem()[1] == SAYS

    # the whole run read again from the start, by GET: exactly the two parts, each event once
    with api.http.stream("GET", f"/v1/runs/{run_id}/stream", params={"starting_after": 0}) as response:
        assert response.status_code == 200
        whole = sse(response)
    both = first + [c.model_dump(mode="json", exclude_unset=True) for c in rest]
    assert [(c["message_type"], c.get("seq_id")) for c in whole] == [(c["message_type"], c.get("seq_id")) for c in both]
    events = [c for c in whole if c["message_type"] not in ("stop_reason", "usage_statistics")]
    assert len({c["seq_id"] for c in events}) == len(events)


def test_background_without_streaming_answers_the_run_at_once(api, live_llm, agent):
    script_two_steps(live_llm, pause=2.0)
    response = api.http.post(f"/v1/agents/{agent.id}/messages", json={
        "messages": [{"role": "user", "content": "I love chess"}], "background": True})
    assert response.status_code == 200
    run = response.json()
    assert run["id"].startswith("run-") and run["status"] in ("created", "running")
    wait_until(lambda: api.sdk.runs.retrieve(run["id"]).status == "completed", timeout=30)
    chunks = list(api.sdk.runs.messages.stream(run["id"]))
    assert isinstance(chunks[-2], LettaStopReason)
    assert [m.content for m in chunks if isinstance(m, AssistantMessage)] == [SAYS]


def test_a_run_whose_log_is_gone_is_read_back_from_recall_memory(api, live_llm, agent, settings):
    script_two_steps(live_llm)
    response = api.sdk.agents.messages.create(agent.id, messages=[{"role": "user", "content": "I love chess"}])
    [run_id] = response.usage.run_ids
    redis_client(settings.REDIS_URL).delete(run_log(int(run_id.removeprefix("run-"))))
    chunks = list(api.sdk.runs.messages.stream(run_id))
    assert [m.content for m in chunks if isinstance(m, AssistantMessage)] == [SAYS]
    assert isinstance(chunks[-2], LettaStopReason) and chunks[-2].stop_reason == "end_turn"


def test_another_users_run_cannot_be_streamed(api, other, live_llm, agent):
    live_llm.enqueue(tool_call("send_message", {"message": "hi"}))
    run_id = api.sdk.agents.messages.create(agent.id, messages=[{"role": "user", "content": "hi"}]).usage.run_ids[0]
    with pytest.raises(NotFoundError):
        list(other.sdk.runs.messages.stream(run_id))
    assert other.http.get(f"/v1/runs/{run_id}/stream").status_code == 404
    assert api.http.post(f"/v1/runs/{run_id}/stream", json={"starting_after": -1}).status_code == 400
