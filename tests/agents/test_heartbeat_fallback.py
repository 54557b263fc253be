"""The heartbeat fallback: a forgotten request_heartbeat after a non-final tool gets a heartbeat, when the
agent has it on. In the engine (in-memory store), then end to end (worker, PostgreSQL)."""

import json

import pytest

from agents.engine.loop import Event
from agents.engine.tools import HEARTBEAT_FALLBACK_NOTE
from agents.models import Agent, Run
from agents.services import agent_create, turn_enqueue
from memory.models import Message, Passage
from tests.agents.in_memory_store import InMemoryStore, make_state
from tests.factories import make_user
from tests.fake_llm import tool_call, tool_calls
from tests.helpers import wait_for_runs

SAVE = tool_call("archival_memory_insert", {"content": "Ada's cat is called Turing."})  # no request_heartbeat
REPLY = tool_call("send_message", {"message": "Saved."})


def result_of(request: dict) -> dict:
    return json.loads([m for m in request["messages"] if m["role"] == "tool"][-1]["content"])


def test_with_the_fallback_a_forgotten_heartbeat_goes_on_and_the_result_says_so(run, fake_llm):
    fake_llm.enqueue(SAVE, REPLY)
    result, store, _ = run(Event("user_message", "my cat is Turing"), InMemoryStore(make_state(heartbeat_fallback=True)))

    assert (result.status, result.stop_reason, result.steps) == ("completed", "end_turn", 2)
    assert store.passages == ["Ada's cat is called Turing."]
    second = fake_llm.chat_requests()[1]
    assert result_of(second)["status"] == "OK"
    assert result_of(second)["message"] == HEARTBEAT_FALLBACK_NOTE
    heartbeat = json.loads(second["messages"][-1]["content"])
    assert heartbeat["type"] == "heartbeat"


def test_without_the_fallback_the_turn_ends_after_the_tool(run, fake_llm):
    fake_llm.enqueue(SAVE, REPLY)
    result, store, _ = run(Event("user_message", "my cat is Turing"))

    assert (result.stop_reason, result.steps) == ("end_turn", 1)
    assert len(fake_llm.chat_requests()) == 1
    assert json.loads(store.messages[-1].content)["message"] is None  # no note either


def test_an_explicit_false_stays_the_models_choice(run, fake_llm):
    fake_llm.enqueue(tool_call("archival_memory_insert", {"content": "x", "request_heartbeat": False}), REPLY)
    result, _, _ = run(Event("user_message", "hi"), InMemoryStore(make_state(heartbeat_fallback=True)))
    assert result.steps == 1


def test_a_call_beside_send_message_is_not_the_chains_last_and_gets_no_heartbeat(run, fake_llm):
    fake_llm.enqueue(tool_calls([SAVE, REPLY]), REPLY)
    result, _, _ = run(Event("user_message", "hi"), InMemoryStore(make_state(heartbeat_fallback=True)))
    assert (result.stop_reason, result.steps) == ("end_turn", 1)


def test_a_search_result_keeps_its_text_and_gains_the_note(run, fake_llm):
    fake_llm.enqueue(tool_call("conversation_search", {"query": "cat"}), REPLY)
    run(Event("user_message", "my cat"), InMemoryStore(make_state(heartbeat_fallback=True)))
    message = result_of(fake_llm.chat_requests()[1])["message"]
    assert message.startswith("Showing 1 of 1 results") and message.endswith(HEARTBEAT_FALLBACK_NOTE)


@pytest.mark.django_db(transaction=True)
def test_end_to_end_the_agent_setting_reaches_the_engine(llm, celery_worker):
    agent = agent_create(owner=make_user(), name="Sam", persona="I am Sam.")
    Agent.objects.filter(pk=agent.pk).update(heartbeat_fallback=True)
    llm.enqueue(SAVE, REPLY)
    turn_enqueue(agent=agent, text="my cat is Turing")
    [run] = wait_for_runs(agent)

    assert (run.status, run.stop_reason) == (Run.Status.COMPLETED, "end_turn")
    assert Passage.objects.filter(agent=agent).count() == 1
    kinds = list(Message.objects.filter(agent=agent).values_list("kind", flat=True))
    assert kinds == ["user_message", "assistant", "tool_result", "heartbeat", "assistant", "tool_result"]
    assert HEARTBEAT_FALLBACK_NOTE in Message.objects.filter(agent=agent, kind="tool_result").first().content
