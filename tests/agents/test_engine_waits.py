"""The loop's side of messages between agents: a call that waits suspends the turn after the step's
other calls have their results, and Turn.resume answers it and goes on, as the strict server checks."""

import json

from agents.engine.loop import Event, Turn, TurnSettings
from agents.engine.tools import TOOL_SCHEMAS, ToolOutcome
from agents.engine.types import Delivery, MessageRefused, ToolSpec
from agents.llm.openai_chat import OpenAIChat
from memory.tokens import tokenizer_for_model
from tests.agents.in_memory_store import InMemoryStore, make_state
from tests.fake_llm import tool_call, tool_calls

EVERY_TOOL = [ToolSpec(name=s["function"]["name"], schema=s) for s in TOOL_SCHEMAS]
WAIT = "send_message_to_agent_and_wait_for_reply"


class Messenger:
    def __init__(self):
        self.sent = []

    def tagged(self, match_all, match_some):
        return ["agent-7", "agent-8"] if "team" in match_all else []

    def send(self, recipients, text, *, wait, step_id, call_id):
        if recipients == ["agent-1"]:
            raise MessageRefused("Refused: waiting for Sam would close the cycle Sam → Sam.")
        self.sent.append((recipients, text, wait, step_id, call_id))
        return [Delivery(int(r.removeprefix("agent-")), r.upper(), 100 + i) for i, r in enumerate(recipients)]


def turn(fake_llm, store, messenger):
    tokenizer, approximate = tokenizer_for_model("gpt-4o-mini")
    return Turn(store=store, llm=OpenAIChat(base_url=fake_llm.base_url, api_key="test", timeout=5), publish=lambda e: None,
                tokenizer=tokenizer, approximate=approximate, settings=TurnSettings(backoff_seconds=0.01),
                sleep=lambda s: None, messenger=messenger)


def test_a_waiting_call_suspends_the_turn_after_the_other_calls_and_resume_goes_on(fake_llm):
    store, messenger = InMemoryStore(make_state(tools=EVERY_TOOL)), Messenger()
    fake_llm.enqueue(tool_calls([
        tool_call("core_memory_append", {"label": "human", "content": "likes tea"}),
        tool_call(WAIT, {"other_agent_id": "agent-7", "message": "Tea or coffee?", "request_heartbeat": True},
                  call_id="call_wait"),
    ], content="Remember, then ask."))
    result = turn(fake_llm, store, messenger).run(Event("user_message", "I like tea."))

    assert (result.status, result.steps) == ("waiting", 1)
    suspension = result.suspension
    assert suspension.waiting == [{"id": "call_wait", "name": WAIT, "heartbeat": True, "runs": [100]}]
    assert (suspension.calls, suspension.heartbeat, suspension.failed) == (1, False, False)
    assert messenger.sent == [(["agent-7"], "Tea or coffee?", True, 1, "call_wait")]
    # the append has its result; the waiting call has none yet
    assert [(m.role, m.name) for m in store.messages] == [("user", ""), ("assistant", ""), ("tool", "core_memory_append")]

    fake_llm.enqueue(tool_call("send_message", {"message": "Agent 7 says coffee."}))
    resumed = turn(fake_llm, store, messenger).resume(suspension, {"call_wait": ToolOutcome("OK", "Coffee.")})
    assert (resumed.status, resumed.stop_reason, resumed.steps) == ("completed", "end_turn", 2)
    assert [s.index for s in store.steps] == [0, 1]  # the resumed turn's step goes on counting
    request = fake_llm.chat_requests()[-1]["messages"]
    results = [(m["tool_call_id"], json.loads(m["content"])["message"]) for m in request if m["role"] == "tool"]
    assert results[-2][1] is None and results[-1] == ("call_wait", "Coffee.")
    assert json.loads(request[-1]["content"])["type"] == "heartbeat"  # the wait asked for one
    assert fake_llm.refused == []


def test_a_refused_or_impossible_message_is_a_failed_result_and_the_turn_goes_on(fake_llm):
    store = InMemoryStore(make_state(tools=EVERY_TOOL))
    fake_llm.enqueue(
        tool_call(WAIT, {"other_agent_id": "agent-1", "message": "me?"}),
        tool_call("send_message_to_agents_matching_tags", {"match_all": [], "match_some": [], "message": "x"}),
        tool_call("send_message_to_agents_matching_tags", {"match_all": ["nobody"], "match_some": ["a"], "message": "x",
                                                                "request_heartbeat": True}),
        tool_call("send_message_to_agent_async", {"other_agent_id": "agent-8", "message": "FYI",
                                                       "request_heartbeat": True}),
        tool_call("send_message", {"message": "done"}),
    )
    result = turn(fake_llm, store, Messenger()).run(Event("user_message", "go"))
    assert (result.status, result.steps) == ("completed", 5)
    outcomes = [json.loads(m.content) for m in store.messages if m.role == "tool"]
    assert [o["status"] for o in outcomes] == ["Failed", "Failed", "OK", "OK", "OK"]
    assert outcomes[0]["message"] == "Refused: waiting for Sam would close the cycle Sam → Sam."
    assert outcomes[1]["message"] == "Name at least one tag, in match_all or match_some."
    assert outcomes[2]["message"] == "No other agent has all of ['nobody'] and one of ['a']: nobody was sent the message."
    assert outcomes[3]["message"].startswith("Message sent to AGENT-8 (agent-8).")


def test_without_a_messenger_the_tools_say_so(fake_llm):
    store = InMemoryStore(make_state(tools=EVERY_TOOL))
    fake_llm.enqueue(tool_call(WAIT, {"other_agent_id": "agent-2", "message": "hi"}),
                     tool_call("send_message", {"message": "ok"}))
    assert turn(fake_llm, store, None).run(Event("user_message", "go")).status == "completed"
    assert json.loads(store.messages[2].content)["message"] == "Messages to other agents cannot be sent here."
