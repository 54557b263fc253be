"""Whatever a tool does, every tool call gets exactly one result, and the history sent stays one the
provider takes: the engine alone, against the scripted server that refuses what OpenAI refuses."""

import json

from agents.engine.context import MISSING_RESULT
from agents.engine.loop import Event
from agents.engine.types import MessageView
from tests.agents.in_memory_store import InMemoryStore, make_state
from tests.fake_llm import tool_call

class RaisingStore(InMemoryStore):
    def archival_insert(self, text, *, step_id=None):
        raise ValueError("A string literal cannot contain NUL (0x00) characters.")


def results_of(request: dict) -> list[dict]:
    return [json.loads(m["content"]) for m in request["messages"] if m["role"] == "tool"]


def test_a_tool_that_raises_is_a_failed_result_then_a_heartbeat(run, fake_llm):
    fake_llm.enqueue(tool_call("archival_memory_insert", {"content": "x"}), tool_call("send_message", {"message": "ok"}))
    result, store, _ = run(Event("user_message", "hi"), RaisingStore(make_state()))
    assert (result.status, result.stop_reason) == ("completed", "end_turn")
    [failed] = results_of(fake_llm.chat_requests()[1])
    assert failed["status"] == "Failed"
    assert failed["message"] == "archival_memory_insert failed: ValueError: A string literal cannot contain NUL (0x00) characters."
    assert fake_llm.refused == []


def test_dates_and_pages_out_of_range_are_failed_results(run, fake_llm):
    fake_llm.enqueue(
        tool_call("conversation_search_date", {"start_date": "2026-01-01", "end_date": "9999-12-31", "request_heartbeat": True}),
        tool_call("conversation_search", {"query": "x", "page": 10**30, "request_heartbeat": True}),
        tool_call("send_message", {"message": "ok"}))
    result, _, _ = run(Event("user_message", "hi"))
    assert result.status == "completed"
    second, third = fake_llm.chat_requests()[1:]
    assert results_of(second)[-1]["status"] == "Failed" and "OverflowError" in results_of(second)[-1]["message"]
    assert results_of(third)[-1]["status"] == "Failed" and "page" in results_of(third)[-1]["message"]


def test_a_call_left_without_its_result_gets_a_failed_one_and_a_stray_result_is_left_out(run, fake_llm):
    calls = [{"id": f"call_{n}", "type": "function", "function": {"name": "archival_memory_search",
                                                                   "arguments": '{"query": "x"}'}} for n in (1, 2)]
    history = [
        MessageView(1, "user", "user_message", "hi", "hi"),
        MessageView(2, "assistant", "assistant", "Searching.", "Searching.", tool_calls=calls),
        MessageView(3, "tool", "tool_result", '{"status": "OK"}', "", tool_call_id="call_1", name="archival_memory_search"),
        # the worker died here: call_2 has no result; an undo then removed a call whose result stayed
        MessageView(4, "tool", "tool_result", '{"status": "OK"}', "", tool_call_id="call_9", name="conversation_search"),
    ]
    fake_llm.enqueue(tool_call("send_message", {"message": "back"}))
    result, _, _ = run(Event("user_message", "still there?"), InMemoryStore(make_state(messages=history)))
    assert result.status == "completed" and fake_llm.refused == []
    [request] = fake_llm.chat_requests()
    tools = [m for m in request["messages"] if m["role"] == "tool"]
    assert [m["tool_call_id"] for m in tools] == ["call_1", "call_2"]
    assert json.loads(tools[1]["content"])["message"] == MISSING_RESULT


def test_cancel_stops_the_turn_at_the_next_step_boundary(run, fake_llm):
    store = InMemoryStore(make_state())

    def answer(request):  # someone presses cancel while the first call runs
        store.cancel_requested = True
        return tool_call("archival_memory_insert", {"content": "a note", "request_heartbeat": True})

    fake_llm.responder = answer
    result, store, _ = run(Event("user_message", "hi"), store)
    assert (result.status, result.stop_reason, result.steps) == ("cancelled", "cancelled", 1)
    assert len(fake_llm.chat_requests()) == 1
    assert [m.role for m in store.messages] == ["user", "assistant", "tool", "user"]  # the call has its result
    assert store.passages == ["a note"]


def test_the_completion_reserve_bounds_the_answer(run, fake_llm):
    fake_llm.enqueue(tool_call("send_message", {"message": "ok"}))
    run(Event("user_message", "hi"), InMemoryStore(make_state(completion_reserve=700)))
    assert fake_llm.chat_requests()[0]["max_tokens"] == 700


def test_an_over_long_result_is_cut_to_fit_the_window(run, fake_llm):
    store = InMemoryStore(make_state(context_window=4000))
    store.passages = ["word " * 5000]
    fake_llm.enqueue(tool_call("archival_memory_search", {"query": "word", "request_heartbeat": True}),
                     tool_call("send_message", {"message": "ok"}))
    result, _, _ = run(Event("user_message", "hi"), store)
    assert result.status == "completed"
    [found] = results_of(fake_llm.chat_requests()[1])
    assert len(found["message"]) < 4200 and "more characters cut" in found["message"]


def test_no_step_starts_past_the_turns_deadline(run, fake_llm):
    fake_llm.responder = lambda request: tool_call("archival_memory_search", {"query": "x", "request_heartbeat": True})
    result, store, _ = run(Event("user_message", "loop"), deadline_seconds=0.0)
    assert (result.status, result.steps) == ("failed", 1) and "deadline of 0 s" in result.error
    assert len(fake_llm.chat_requests()) == 1 and [m.role for m in store.messages][-2:] == ["tool", "user"]
