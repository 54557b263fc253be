"""The JSON tool protocol: tools described in the prompt, answers read back as tool calls, against a
scripted server that refuses anything of native tool calling."""

import json

import pytest

from agents.engine.loop import Event, Turn, TurnSettings
from agents.engine.tools import ToolContext, execute
from agents.llm.json_tools import JsonToolsLLM, parse_answer, rewrite_history
from agents.llm.openai_chat import OpenAIChat
from agents.models import Agent, Run, Step
from agents.services import agent_create, turn_enqueue
from memory.models import Message, Passage
from memory.tokens import tokenizer_for_model
from tests.agents.in_memory_store import InMemoryStore, make_state
from tests.factories import make_user
from tests.fake_llm import TOOLS_REFUSED, text
from tests.helpers import wait_for_runs


def answer(tool: str, arguments: dict, thinking: str = "") -> str:
    return json.dumps({"thinking": thinking, "tool": tool, "arguments": arguments})


# --- reading answers -------------------------------------------------------------------------


def test_one_object_is_one_call_with_its_thinking():
    thinking, [call] = parse_answer(answer("send_message", {"message": "Hi"}, "Greet her."))
    assert (thinking, call.name, json.loads(call.arguments)) == ("Greet her.", "send_message", {"message": "Hi"})


def test_code_fences_and_text_around_are_tolerated_and_the_text_before_is_the_thinking():
    raw = 'She wants a fact saved.\n```json\n' + answer("archival_memory_insert", {"content": "x"}) + '\n```\nDone.'
    thinking, [call] = parse_answer(raw)
    assert call.name == "archival_memory_insert" and json.loads(call.arguments) == {"content": "x"}
    raw = 'She wants a fact saved. ' + answer("archival_memory_insert", {"content": "x"})
    assert parse_answer(raw)[0] == "She wants a fact saved."


def test_two_objects_are_two_calls():
    _, calls = parse_answer(answer("archival_memory_insert", {"content": "x"}) + "\n" + answer("send_message", {"message": "ok"}))
    assert [c.name for c in calls] == ["archival_memory_insert", "send_message"]
    assert len({c.id for c in calls}) == 2


def test_a_trailing_comma_is_not_accepted_silently_the_engine_says_where_the_json_broke():
    raw = '{"thinking": "t", "tool": "send_message", "arguments": {"message": "hi",}}'
    _, [call] = parse_answer(raw)
    assert call.name == "send_message"
    ctx = ToolContext(make_state(), InMemoryStore(make_state()), None, 5)
    outcome = execute(ctx, call.name, call.arguments, call.id)
    assert outcome.failed and outcome.heartbeat
    assert "The arguments of send_message are not valid JSON" in outcome.message


def test_an_answer_that_names_no_tool_is_plain_text():
    assert parse_answer("Hello there!") == ("Hello there!", [])
    assert parse_answer('{"message": "hi"}') == ('{"message": "hi"}', [])


def test_history_becomes_plain_chat_that_names_each_result():
    messages = [
        {"role": "system", "content": "sys"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "save it", "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "archival_memory_insert", "arguments": '{"content": "x"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": '{"status": "OK"}'},
        {"role": "user", "content": "heartbeat"},
    ]
    out = rewrite_history(messages)
    assert [m["role"] for m in out] == ["system", "user", "assistant", "user"]
    assert json.loads(out[2]["content"]) == {"thinking": "save it", "tool": "archival_memory_insert", "arguments": {"content": "x"}}
    assert out[3]["content"] == '[Result of archival_memory_insert (call call_1)]\n{"status": "OK"}\n\nheartbeat'
    assert all("tool_calls" not in m for m in out)


# --- whole turns against a server without tool calling ---------------------------------------


def script_a_turn(server):
    server.tools_refused = True
    server.enqueue(
        text(answer("archival_memory_insert", {"content": "Ada's cat is Turing.", "request_heartbeat": True},
                    "A fact worth keeping.")),
        text("```json\n" + answer("send_message", {"message": "Noted: Turing."}) + "\n```"),
    )


def test_a_whole_turn_in_the_engine(fake_llm):
    script_a_turn(fake_llm)
    store, events = InMemoryStore(make_state()), []
    tokenizer, approximate = tokenizer_for_model("gpt-4o-mini")
    turn = Turn(store=store, llm=JsonToolsLLM(OpenAIChat(base_url=fake_llm.base_url, api_key="t", timeout=5)),
                publish=events.append, tokenizer=tokenizer, approximate=approximate,
                settings=TurnSettings(backoff_seconds=0.01), sleep=lambda s: None)
    result = turn.run(Event("user_message", "my cat is Turing"))

    assert (result.status, result.stop_reason, result.steps) == ("completed", "end_turn", 2)
    assert fake_llm.refused == []
    assert store.passages == ["Ada's cat is Turing."]
    first, second = fake_llm.chat_requests()
    assert "tools" not in first and "tool_choice" not in first
    assert "archival_memory_insert" in first["messages"][0]["content"] and '"tool"' in first["messages"][0]["content"]
    assert second["messages"][-1]["content"].startswith("[Result of archival_memory_insert (call call_")
    # the steps keep what the server was sent, not the request with tools
    assert [s.request for s in store.steps] == [first, second]
    reply = next(e for e in events if e["type"] == "assistant_message")
    assert reply["text"] == "Noted: Turing."
    assert store.messages[1].content == "A fact worth keeping."  # the thinking, as a native model's content


def test_without_the_protocol_such_a_server_refuses_the_turn(fake_llm):
    fake_llm.tools_refused = True
    store = InMemoryStore(make_state())
    tokenizer, approximate = tokenizer_for_model("gpt-4o-mini")
    turn = Turn(store=store, llm=OpenAIChat(base_url=fake_llm.base_url, api_key="t", timeout=5), publish=lambda e: None,
                tokenizer=tokenizer, approximate=approximate, sleep=lambda s: None)
    result = turn.run(Event("user_message", "hi"))
    assert result.status == "failed" and TOOLS_REFUSED in result.error


@pytest.mark.django_db(transaction=True)
def test_end_to_end_an_agent_on_the_json_protocol(llm, celery_worker):
    agent = agent_create(owner=make_user(), name="Sam", persona="I am Sam.")
    Agent.objects.filter(pk=agent.pk).update(tool_protocol=Agent.ToolProtocol.JSON)
    script_a_turn(llm)
    turn_enqueue(agent=agent, text="my cat is Turing")
    [run] = wait_for_runs(agent)

    assert (run.status, run.stop_reason) == (Run.Status.COMPLETED, "end_turn"), run.error
    assert llm.refused == []
    assert Passage.objects.filter(agent=agent).get().text == "Ada's cat is Turing."
    steps = list(Step.objects.filter(run=run).order_by("index"))
    assert [s.request for s in steps] == llm.chat_requests()
    assert steps[0].response["json_protocol"]["tool_calls"][0]["function"]["name"] == "archival_memory_insert"
    said = Message.objects.filter(agent=agent, kind="assistant").last()
    assert said.text == "Noted: Turing."
