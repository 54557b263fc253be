"""Memory pressure in the engine: the warning, the flush into a recursive summary, and overflow errors."""

import json

import pytest

from agents.engine.loop import Event, Turn, TurnSettings, eviction_point
from agents.engine.prompts import MEMORY_WARNING
from agents.engine.types import MessageView
from agents.llm.openai_chat import OpenAIChat
from memory.tokens import tokenizer_for_model
from tests.agents.in_memory_store import InMemoryStore, make_state
from tests.fake_llm import context_overflow, text, tool_call

SUMMARY_MARK = "You maintain the long-term summary"


def chatter(n: int, words: int = 60) -> list[MessageView]:
    """n old user/assistant exchanges, each message about `words` words long."""
    messages = []
    for i in range(n):
        body = f"fact number {i}: " + " ".join(f"word{i}_{j}" for j in range(words))
        messages.append(MessageView(None, "user", "user_message", json.dumps({"type": "user_message", "message": body}), body))
        messages.append(MessageView(None, "assistant", "assistant", f"thinking about {i}", f"reply {i}"))
    return messages


def store_with(messages: list[MessageView], **overrides) -> InMemoryStore:
    store = InMemoryStore(make_state(**overrides))
    store.append(messages)
    return store


@pytest.fixture
def turn(fake_llm):
    def make(store: InMemoryStore) -> tuple[Turn, list]:
        events = []
        tokenizer, approximate = tokenizer_for_model("gpt-4o-mini")
        return Turn(store=store, llm=OpenAIChat(base_url=fake_llm.base_url, api_key="t", timeout=5), publish=events.append,
                    tokenizer=tokenizer, approximate=approximate, settings=TurnSettings(backoff_seconds=0),
                    sleep=lambda s: None), events

    fake_llm.responder = lambda request: (text("We talked about facts 0 to 5.")
                                          if SUMMARY_MARK in request["messages"][0]["content"] else None)
    return make


def prompt_tokens(store: InMemoryStore) -> int:
    return store.steps[-1].tokens["prompt_total"]


def test_crossing_the_warning_line_sends_one_alert_per_crossing(turn, fake_llm):
    store = store_with(chatter(6), context_window=4000, completion_reserve=500, warning_share=0.5)
    fake_llm.enqueue(tool_call("send_message", {"message": "noted"}), tool_call("send_message", {"message": "again"}))
    first, events = turn(store)
    first.run(Event("user_message", "hello"))
    assert 2000 < prompt_tokens(store) < 3500
    last = json.loads(fake_llm.chat_requests()[0]["messages"][-1]["content"])
    assert last["type"] == "system_alert" and "save any important information" in last["message"]
    assert store.state.memory_warning_sent is True
    assert any(e["type"] == "system_alert" and e["text"] == MEMORY_WARNING for e in events)

    second, events = turn(store)
    second.run(Event("user_message", "still there?"))
    alerts = [m for m in fake_llm.chat_requests()[1]["messages"] if "save any important information" in (m["content"] or "")]
    assert len(alerts) == 1  # the old alert is in the history; no new one
    assert not any(e["type"] == "system_alert" for e in events)


def test_a_full_window_is_flushed_into_a_recursive_summary(turn, fake_llm):
    old = chatter(12)
    store = store_with(old, context_window=4000, completion_reserve=500)
    fake_llm.enqueue(tool_call("send_message", {"message": "I remember."}))
    agent, events = turn(store)
    result = agent.run(Event("user_message", "what did we discuss?"))
    assert result.status == "completed"

    summary_request, agent_request = fake_llm.chat_requests()
    assert SUMMARY_MARK in summary_request["messages"][0]["content"]
    assert "fact number 0" in summary_request["messages"][1]["content"]
    assert "Previous summary:\n(none)" in summary_request["messages"][1]["content"]
    # evicted: about half of the queue, oldest first; the summary note follows the system prompt
    assert store.evicted == [m.id for m in store.messages[: len(store.evicted)]]
    assert 10 <= len(store.evicted) <= 14
    note = agent_request["messages"][1]["content"]
    assert "We talked about facts 0 to 5." in note and "hidden from view" in note
    assert "fact number 0" not in json.dumps(agent_request["messages"])
    assert agent_request["messages"][-1]["content"].startswith('{"type": "user_message"')
    assert store.steps[0].purpose == "summary" and store.steps[1].purpose == "agent"
    assert prompt_tokens(store) < 3500
    summary_event = next(e for e in events if e["type"] == "summary")
    assert summary_event["text"] in note and summary_event["id"] == store.state.summary.id
    # evicted messages stay in recall memory
    assert store.recall_search("fact number 0", 1, 5).total >= 1


def test_a_second_flush_folds_the_old_summary_in(turn, fake_llm):
    store = store_with(chatter(12), context_window=4000, completion_reserve=500)
    fake_llm.enqueue(tool_call("send_message", {"message": "one"}))
    turn(store)[0].run(Event("user_message", "first"))
    store.append(chatter(12))
    fake_llm.enqueue(tool_call("send_message", {"message": "two"}))
    turn(store)[0].run(Event("user_message", "second"))
    summaries = [r for r in fake_llm.chat_requests() if SUMMARY_MARK in r["messages"][0]["content"]]
    assert len(summaries) >= 2  # the second turn may need more than one flush
    assert "Previous summary:\nWe talked about facts 0 to 5." in summaries[1]["messages"][1]["content"]


def test_a_context_length_error_from_the_provider_flushes_and_retries(turn, fake_llm):
    store = store_with(chatter(4), context_window=8000)
    fake_llm.enqueue(context_overflow(), tool_call("send_message", {"message": "fits now"}))
    result = turn(store)[0].run(Event("user_message", "hi"))
    assert result.status == "completed"
    requests = fake_llm.chat_requests()
    assert len(requests) == 3  # the refused request, the summary, the retry
    assert SUMMARY_MARK in requests[1]["messages"][0]["content"]
    assert len(requests[2]["messages"]) < len(requests[0]["messages"])
    assert "maximum context length" in store.steps[0].error


def test_the_last_summary_of_a_turn_keeps_only_the_message_to_answer(turn, fake_llm):
    # a huge message near the end survives two halvings; the third summary leaves only the newest message
    big = "word " * 2700
    store = store_with([*chatter(8, words=10), MessageView(None, "assistant", "assistant", big, "")], context_window=4000,
                       completion_reserve=500)
    fake_llm.enqueue(tool_call("send_message", {"message": "fits now"}))
    result = turn(store)[0].run(Event("user_message", "hi"))
    assert (result.status, result.stop_reason) == ("completed", "end_turn"), result.error
    summaries = [r for r in fake_llm.chat_requests() if SUMMARY_MARK in r["messages"][0]["content"]]
    assert len(summaries) == 3
    assert big not in json.dumps(fake_llm.chat_requests()[-1]["messages"])


def test_a_window_too_small_for_the_fixed_prompt_fails_clearly(turn, fake_llm):
    store = store_with([], context_window=1100, completion_reserve=100)
    result = turn(store)[0].run(Event("user_message", "hi"))
    assert result.status == "failed"
    assert "no message can be evicted" in result.error
    assert fake_llm.chat_requests() == []


def m(role: str) -> MessageView:
    return MessageView(None, role, "x")


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        (["user", "assistant", "user", "assistant"], 2),
        (["user", "assistant", "tool", "tool", "user", "assistant", "tool", "user"], 4),  # 4 lands after both results
        (["user", "assistant", "tool", "user"], 3),
        (["user"], 0),
        (["assistant", "tool", "tool", "tool"], 0),  # only the newest could go: nothing is evicted
    ],
)
def test_eviction_never_splits_a_tool_call_from_its_results(roles, expected):
    messages = [m(role) for role in roles]
    cut = eviction_point(messages, 0.5)
    assert cut == expected
    if 0 < cut < len(messages):
        assert messages[cut].role != "tool"
