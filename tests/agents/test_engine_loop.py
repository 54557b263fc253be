"""The engine alone: in-memory storage, the real openai SDK against the scripted server. No database."""

import json

import pytest

from agents.engine import events as events_module
from agents.engine.context import TIERS
from agents.engine.loop import Event
from memory.tokens import REPLY_PRIMING, count_message, count_tools, tokenizer_for_model
from tests.agents.in_memory_store import InMemoryStore, make_state
from tests.fake_llm import error, text, tool_call


def kinds(events):
    return [e["type"] for e in events if not e["type"].endswith("_delta")]


def tool_result_of(request: dict, index: int = -1) -> dict:
    results = [m for m in request["messages"] if m["role"] == "tool"]
    return json.loads(results[index]["content"])


def test_a_reply_with_send_message_ends_the_turn(run, fake_llm):
    fake_llm.enqueue(tool_call("send_message", {"message": "Hi Ada!"}, content="A new friend. Greet her."))
    result, store, events = run(Event("user_message", "hi, I'm Ada"))

    assert (result.status, result.stop_reason, result.steps) == ("completed", "end_turn", 1)
    # every message stored is announced as the events it stands for; how the run ended is the shell's to say
    assert kinds(events) == ["user_message", "usage", "reasoning", "assistant_message", "tool_result"]
    assert all(isinstance(e, events_module.Event) for e in events)
    assert next(e for e in events if e["type"] == "assistant_message")["text"] == "Hi Ada!"
    deltas = "".join(e["delta"] for e in events if e["type"] == "reasoning_delta")
    assert deltas == "A new friend. Greet her."
    [request] = fake_llm.chat_requests()
    last = json.loads(request["messages"][-1]["content"])
    assert (last["type"], last["message"]) == ("user_message", "hi, I'm Ada")
    assert request["stream"] is True and request["stream_options"] == {"include_usage": True}
    assert [t["function"]["name"] for t in request["tools"]][:2] == ["send_message", "core_memory_append"]
    assert [m.role for m in store.messages] == ["user", "assistant", "tool"]


def test_the_answer_streams_under_the_id_it_is_stored_with(run, fake_llm):
    fake_llm.enqueue(tool_call("send_message", {"message": "Hi Ada, nice to meet you!"}, content="Greet her."),)
    _, store, events = run(Event("user_message", "hi, I'm Ada"))

    answer = next(m for m in store.messages if m.role == "assistant")
    deltas = [e for e in events if e["type"].endswith("_delta")]
    assert {e["message_id"] for e in deltas} == {answer.id}
    assert "".join(e["delta"] for e in deltas if e["type"] == "assistant_delta") == "Hi Ada, nice to meet you!"
    arguments = "".join(e["delta"] for e in deltas if e["type"] == "tool_call_delta")
    assert arguments == answer.tool_calls[0]["function"]["arguments"]
    assert {e["tool_call_id"] for e in deltas if e["type"] != "reasoning_delta"} == {answer.tool_calls[0]["id"]}
    # the stored answer's events say the pieces told them already; the others do not
    told = {e["type"]: e.get("streamed", False) for e in events if not e["type"].endswith("_delta")}
    assert told == {"user_message": False, "usage": False, "reasoning": True, "assistant_message": True,
                    "tool_result": False}
    assert all(e["id"] == answer.id for e in events if e["type"] in ("reasoning", "assistant_message"))


def test_core_memory_append_is_in_the_next_requests_system_prompt(run, fake_llm):
    fake_llm.enqueue(
        tool_call("core_memory_append", {"label": "human", "content": "Name: Ada", "request_heartbeat": True}),
        tool_call("send_message", {"message": "Nice to meet you, Ada."}),
    )
    result, store, events = run(Event("user_message", "I'm Ada"))

    first, second = fake_llm.chat_requests()
    assert "Name: Ada" not in first["messages"][0]["content"]
    assert "<human>" in second["messages"][0]["content"]
    assert "<value>\nName: Ada\n</value>" in second["messages"][0]["content"]
    assert store.block_writes == [("human", "Name: Ada", 1)]
    heartbeat = json.loads(second["messages"][-1]["content"])
    assert heartbeat["type"] == "heartbeat" and "request_heartbeat=true" in heartbeat["reason"]
    assert result.steps == 2


def test_three_heartbeats_chain_before_the_reply(run, fake_llm):
    fake_llm.enqueue(
        tool_call("archival_memory_insert", {"content": "Ada likes chess", "request_heartbeat": True}),
        tool_call("archival_memory_search", {"query": "chess", "request_heartbeat": True}),
        tool_call("conversation_search", {"query": "Ada", "request_heartbeat": True}),
        tool_call("send_message", {"message": "Done."}),
    )
    result, store, _ = run(Event("user_message", "Ada here, remember chess"))
    assert (result.steps, result.stop_reason) == (4, "end_turn")
    requests = fake_llm.chat_requests()
    assert len(requests) == 4
    assert "Showing 1 of 1 results (page 1 of 1)" in tool_result_of(requests[2])["message"]
    assert "Ada likes chess" in tool_result_of(requests[2])["message"]
    assert "Ada here" in tool_result_of(requests[3])["message"]
    assert store.passages == ["Ada likes chess"]


def test_the_step_limit_stops_a_chain(run, fake_llm):
    fake_llm.responder = lambda request: tool_call("archival_memory_search", {"query": "x", "request_heartbeat": True})
    store = InMemoryStore(make_state(max_steps=3))
    result, _, events = run(Event("user_message", "loop"), store)
    assert (result.status, result.stop_reason, result.steps) == ("completed", "max_steps", 3)
    assert len(fake_llm.chat_requests()) == 3
    assert not any(e["type"] == "stop" for e in events)


def test_plain_text_without_a_tool_call_is_the_agents_message(run, fake_llm):
    fake_llm.enqueue(text("Hello there, I am a small local model."))
    result, store, events = run(Event("user_message", "hi"))
    assert result.stop_reason == "no_tool_call"
    assert next(e for e in events if e["type"] == "assistant_message")["text"] == "Hello there, I am a small local model."
    assert store.messages[-1].role == "assistant" and store.messages[-1].tool_calls is None


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (tool_call("core_memory_append", '{"label": "human", "content": '), "are not valid JSON"),
        (tool_call("core_memory_append", "[1, 2]"), "must be a JSON object, not list"),
        (tool_call("teleport", {"where": "mars"}), "Unknown tool 'teleport'. Available tools: send_message"),
        (tool_call("core_memory_append", {"label": "human"}), "missing required argument 'content'"),
        (tool_call("archival_memory_search", {"query": "x", "page": "second"}), "argument 'page'"),
        (tool_call("core_memory_append", {"label": "system", "content": "x"}), "No core memory block labelled 'system'"),
        (tool_call("core_memory_append", {"label": "rules", "content": "x"}), "The block 'rules' is read-only"),
        (tool_call("core_memory_append", {"label": "human", "content": "x" * 2001}),
         "would have 2001 characters, over its limit of 2000"),
        (tool_call("core_memory_replace", {"label": "persona", "old_content": "grumpy", "new_content": "kind"}),
         "old_content 'grumpy' was not found in the block 'persona'"),
        (tool_call("conversation_search_date", {"start_date": "last week", "end_date": "2026-11-21"}), "argument 'start_date'"),
    ],
)
def test_a_malformed_call_fails_with_a_clear_result_and_the_turn_goes_on(run, fake_llm, call, expected):
    from agents.engine.types import BlockView

    state = make_state()
    state.blocks.append(BlockView("rules", "Be brief.", 500, read_only=True))
    fake_llm.enqueue(call, tool_call("send_message", {"message": "Sorry, fixed."}))
    result, store, events = run(Event("user_message", "hi"), InMemoryStore(state))

    assert (result.status, result.stop_reason, result.steps) == ("completed", "end_turn", 2)
    failure = tool_result_of(fake_llm.chat_requests()[1])
    assert failure["status"] == "Failed"
    assert expected in failure["message"]
    heartbeat = json.loads(fake_llm.chat_requests()[1]["messages"][-1]["content"])
    assert "Function call failed" in heartbeat["reason"]
    assert store.block_writes == []
    assert any(e["type"] == "tool_result" and e["status"] == "Failed" for e in events)


def test_a_server_error_is_retried_then_succeeds(run, fake_llm):
    fake_llm.enqueue(error(500, "upstream hiccup"), tool_call("send_message", {"message": "ok"}))
    result, store, events = run(Event("user_message", "hi"))
    assert result.status == "completed"
    assert [s.error for s in store.steps][0].startswith("LLM server returned 500")
    assert store.steps[1].error == ""
    retry = next(e for e in events if e["type"] == "retry")
    assert retry["attempt"] == 1 and "500" in retry["error"]


def test_a_provider_that_keeps_failing_fails_the_turn_with_a_clear_error(run, fake_llm):
    fake_llm.responder = lambda request: error(503, "overloaded")
    result, store, events = run(Event("user_message", "hi"), max_retries=2)
    assert (result.status, result.stop_reason) == ("failed", "error")
    assert "503" in result.error
    assert len(fake_llm.chat_requests()) == 3
    assert not any(e["type"] in ("error", "stop") for e in events)  # announced once, by the run's owner


def test_a_client_error_is_not_retried(run, fake_llm):
    fake_llm.enqueue(error(401, "bad key", code="invalid_api_key"))
    result, _, _ = run(Event("user_message", "hi"))
    assert result.status == "failed" and "401" in result.error
    assert len(fake_llm.chat_requests()) == 1


def test_tier_counts_add_up_to_the_exact_payload(run, fake_llm):
    fake_llm.enqueue(tool_call("send_message", {"message": "hello"}))
    _, store, _ = run(Event("user_message", "count me"))
    [step] = store.steps
    tokenizer, _ = tokenizer_for_model("gpt-4o-mini")
    [request] = fake_llm.chat_requests()
    payload_total = sum(count_message(tokenizer, m) for m in request["messages"]) + REPLY_PRIMING + count_tools(tokenizer, request["tools"])
    assert sum(step.tokens[tier] for tier in TIERS) == step.tokens["prompt_total"] == payload_total
    assert all(step.tokens[tier] > 0 for tier in ("system_instructions", "tool_schemas", "core_memory", "memory_metadata", "messages"))
    assert step.tokens["encoding"] == "o200k_base" and step.tokens["approximate"] is False
    assert step.request == request  # the trace holds exactly what was sent
    assert step.usage["prompt_tokens"] > 0


def test_login_heartbeat_and_memory_warning_events(run, fake_llm):
    for kind, expected in [("login", "login"), ("heartbeat", "heartbeat"), ("memory_warning", "system_alert")]:
        fake_llm.reset()
        fake_llm.enqueue(tool_call("send_message", {"message": "hi"}))
        result, _, events = run(Event(kind))
        assert result.status == "completed"
        sent = json.loads(fake_llm.chat_requests()[0]["messages"][-1]["content"])
        assert sent["type"] == expected
        assert events[0]["type"] == "system_alert"
