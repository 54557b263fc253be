"""Letta's tool rules as the loop enforces them: the tools offered narrow, a call that breaks a rule
is a failed result naming it, and every rule that acted is noted with its step."""

import json

from agents.engine.loop import Event
from agents.engine.rules import KINDS
from agents.engine.tools import BUILTIN_TOOLS
from tests.agents.in_memory_store import InMemoryStore, make_state
from tests.fake_llm import text, tool_call


def store(*rules: dict) -> InMemoryStore:
    return InMemoryStore(make_state(tools=list(BUILTIN_TOOLS), tool_rules=list(rules)))


def offered(request: dict) -> list[str]:
    return [t["function"]["name"] for t in request.get("tools", [])]


def results_of(request: dict) -> list[dict]:
    return [json.loads(m["content"]) for m in request["messages"] if m["role"] == "tool"]


def insert(content: str = "x", heartbeat: bool = True):
    return tool_call("archival_memory_insert", {"content": content, "request_heartbeat": heartbeat})


def test_run_first_offers_only_its_tool_at_the_first_step_and_refuses_another(run, fake_llm):
    fake_llm.enqueue(tool_call("send_message", {"message": "too soon"}), insert(), tool_call("send_message", {"message": "ok"}))
    result, memory, _ = run(Event("user_message", "hi"), store({"tool_name": "archival_memory_insert", "type": "run_first"}))
    first, second, third = fake_llm.chat_requests()
    assert offered(first) == ["archival_memory_insert"]
    assert results_of(second)[-1]["message"] == ("Tool rule run_first: the turn starts with archival_memory_insert: "
                                                 "send_message may not be called now.")
    assert "send_message" in offered(third) and result.stop_reason == "end_turn"
    assert list(memory.rule_notes.values())[0] == [
        "run_first: the turn starts with archival_memory_insert",
        "Tool rule run_first: the turn starts with archival_memory_insert: send_message may not be called now."]
    assert fake_llm.refused == []


def test_exit_loop_ends_the_turn_even_with_a_heartbeat_and_continue_loop_goes_on_without_one(run, fake_llm):
    fake_llm.enqueue(tool_call("conversation_search", {"query": "x"}), insert(heartbeat=True))
    result, memory, _ = run(Event("user_message", "hi"), store(
        {"tool_name": "archival_memory_insert", "type": "exit_loop"},
        {"tool_name": "conversation_search", "type": "continue_loop"}))
    assert (result.status, result.stop_reason, result.steps) == ("completed", "end_turn", 2)
    assert list(memory.rule_notes.values()) == [["continue_loop: the agent goes on after conversation_search"],
                                                ["exit_loop: archival_memory_insert ends the turn"]]


def test_children_parents_conditions_and_counts(run, fake_llm):
    rules = ({"tool_name": "conversation_search", "type": "constrain_child_tools", "children": ["archival_memory_search"]},
             {"tool_name": "archival_memory_search", "type": "max_count_per_step", "max_count_limit": 1},
             {"tool_name": "core_memory_append", "type": "parent_last_tool", "children": ["core_memory_replace"]})
    fake_llm.enqueue(
        tool_call("core_memory_replace", {"label": "human", "old_content": "a", "new_content": "b", "request_heartbeat": True}),
        tool_call("conversation_search", {"query": "x", "request_heartbeat": True}),
        tool_call("archival_memory_search", {"query": "x", "request_heartbeat": True}),
        tool_call("archival_memory_search", {"query": "y", "request_heartbeat": True}),
        tool_call("send_message", {"message": "done"}))
    run(Event("user_message", "hi"), store(*rules))
    requests = fake_llm.chat_requests()
    assert "core_memory_replace" not in offered(requests[0])  # its parent was not the last call
    assert results_of(requests[1])[-1]["message"] == (
        "Tool rule parent_last_tool: core_memory_replace may be called only right after core_memory_append.")
    assert offered(requests[2]) == ["archival_memory_search"]  # after conversation_search
    assert "archival_memory_search" not in offered(requests[4])
    assert results_of(requests[4])[-1]["message"] == (
        "Tool rule max_count_per_step: archival_memory_search may be called 1 times in a turn, and it has been.")


def test_a_conditional_rule_picks_the_next_tool_from_the_output(run, fake_llm):
    fake_llm.enqueue(tool_call("conversation_search", {"query": "nothing here", "request_heartbeat": True}),
                     tool_call("send_message", {"message": "found nothing"}))
    run(Event("user_message", "hi"), store({"tool_name": "conversation_search", "type": "conditional",
                                            "child_output_mapping": {"No results found.": "send_message"},
                                            "default_child": "archival_memory_search"}))
    assert offered(fake_llm.chat_requests()[1]) == ["send_message"]


def test_required_before_exit_keeps_the_turn_going_until_the_tool_is_called(run, fake_llm):
    fake_llm.enqueue(tool_call("send_message", {"message": "bye"}), text("Still here."), insert(heartbeat=False))
    result, memory, _ = run(Event("user_message", "hi"), store({"tool_name": "archival_memory_insert",
                                                                "type": "required_before_exit"}))
    assert (result.stop_reason, result.steps) == ("end_turn", 3)
    heartbeats = [m.text for m in memory.messages if m.kind == "heartbeat"]
    assert heartbeats == ["Tool rule required_before_exit: call archival_memory_insert before you finish."] * 2


def test_every_kind_is_known():
    assert set(KINDS) == {"run_first", "exit_loop", "continue_loop", "constrain_child_tools", "parent_last_tool",
                          "conditional", "max_count_per_step", "required_before_exit"}
