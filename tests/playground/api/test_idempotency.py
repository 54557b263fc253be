"""A retried send with the same Idempotency-Key starts no second turn: it gets the first run's answer
(waiting for it as the first request does) or its stream (live stack, plain HTTP: the SDK sends no
such header unless told to)."""

import json
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from agents.models import Run
from memory.models import Message
from tests.fake_llm import delay, tool_call
from tests.helpers import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def agent(api):
    return api.sdk.agents.create(name="Sam", model="openai/gpt-4o-mini", memory_blocks=[
        {"label": "persona", "value": "I am Sam."}, {"label": "human", "value": "Name: Ada"}])


def client(api) -> httpx.Client:
    """One client per request in flight, as two attempts of a retrying client would be."""
    return httpx.Client(base_url=api.http.base_url, headers=api.http.headers, timeout=60)


def send(api, path: str, key: str, text: str = "hello") -> httpx.Response:
    with client(api) as http:
        return http.post(path, json={"messages": [{"role": "user", "content": text}]}, headers={"Idempotency-Key": key})


def stream(api, path: str, key: str, text: str = "hello") -> list[dict]:
    with client(api) as http, http.stream("POST", path, json={"input": text}, headers={"Idempotency-Key": key}) as response:
        assert response.status_code == 200
        lines = [line for line in response.iter_lines() if line]
    assert lines[-1] == "data: [DONE]"
    return [json.loads(line.removeprefix("data: ")) for line in lines[:-1]]


def shape(chunks: list[dict]) -> list[tuple]:
    return [(c["message_type"], c.get("id"), c.get("content") or c.get("stop_reason") or c.get("run_ids")) for c in chunks]


def test_a_retried_send_waits_for_the_first_turn_and_answers_with_it(api, live_llm, agent):
    live_llm.enqueue(delay(2, tool_call("send_message", {"message": "Hello once"})))
    path = f"/v1/agents/{agent.id}/messages"
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(send, api, path, "key-1")
        wait_until(lambda: Run.objects.filter(idempotency_key="key-1").exists(), message="the first request's run")
        retry = pool.submit(send, api, path, "key-1")  # the client gave up on the first and tries again
        first, retry = first.result(), retry.result()
    assert first.status_code == retry.status_code == 200
    assert first.json() == retry.json()
    assert [m["content"] for m in first.json()["messages"]] == ["Hello once"]
    assert Run.objects.count() == 1 and len(live_llm.chat_requests()) == 1
    # later retries answer at once, from the stored turn; another message with the key is refused
    assert send(api, path, "key-1").json() == first.json()
    conflict = send(api, path, "key-1", text="something else")
    assert conflict.status_code == 409 and conflict.json()["code"] == "idempotency_key_reused"
    assert Run.objects.count() == 1


def test_a_retried_stream_gets_the_first_turns_events_once_each(api, live_llm, agent):
    live_llm.enqueue(delay(2, tool_call("core_memory_append", {"label": "human", "content": "Likes chess",
                                                               "request_heartbeat": True}, content="Worth keeping.")),
                     delay(2, tool_call("send_message", {"message": "Noted!"})))
    path = f"/v1/agents/{agent.id}/messages/stream"
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(stream, api, path, "key-2")
        # the retry comes between the turn's two steps: the first step from recall memory, the rest live
        wait_until(lambda: Message.objects.filter(run__idempotency_key="key-2", role=Message.Role.TOOL).exists(),
                   message="the first step's tool result")
        retry = pool.submit(stream, api, path, "key-2")
        first, retry = first.result(), retry.result()
    expected = ["reasoning_message", "tool_call_message", "tool_return_message", "assistant_message", "stop_reason",
                "usage_statistics"]
    assert [c["message_type"] for c in first] == expected
    assert shape(retry) == shape(first)
    assert Run.objects.count() == 1 and len(live_llm.chat_requests()) == 2
    # after the end: the whole turn from recall memory, and the non-streaming route agrees
    assert shape(stream(api, path, "key-2")) == shape(first)
    answer = send(api, f"/v1/agents/{agent.id}/messages", "key-2").json()
    assert [m["id"] for m in answer["messages"]] == [c["id"] for c in first[:4]]
    assert api.sdk.agents.blocks.retrieve("human", agent_id=agent.id).value == "Name: Ada\nLikes chess"  # once
