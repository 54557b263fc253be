"""An agent's tool set in the engine: only its tools are offered, custom ones go to the ToolRunner
with checked arguments, and whatever the runner says becomes one result (the sandbox itself is
tests/agents/tools/test_sandbox.py)."""

import json

from agents.engine.loop import Event
from agents.engine.tools import BUILTIN_TOOLS
from agents.engine.types import ToolRun, ToolSpec
from tests.agents.in_memory_store import InMemoryStore, make_state
from tests.fake_llm import text, tool_call

ROLL = ToolSpec(name="roll_dice", kind="custom", source="def roll_dice(sides: int, times: int = 1): ...",
                return_char_limit=40, schema={"type": "function", "function": {
                    "name": "roll_dice", "description": "Roll dice.",
                    "parameters": {"type": "object", "required": ["sides", "request_heartbeat"], "properties": {
                        "sides": {"type": "integer"}, "times": {"type": "integer", "default": 1},
                        "request_heartbeat": {"type": "boolean"}}}}})
SEND = next(t for t in BUILTIN_TOOLS if t.name == "send_message")


class Runner:
    def __init__(self, *answers: ToolRun) -> None:
        self.answers, self.calls = list(answers), []

    def run(self, tool, arguments, state):
        self.calls.append((tool.name, arguments))
        return self.answers.pop(0)


def results_of(request: dict) -> list[dict]:
    return [json.loads(m["content"]) for m in request["messages"] if m["role"] == "tool"]


def store_with(*tools: ToolSpec) -> InMemoryStore:
    return InMemoryStore(make_state(tools=list(tools)))


def test_only_the_agents_tools_are_offered_and_a_custom_tool_gets_its_checked_arguments(run, fake_llm):
    runner = Runner(ToolRun(ok=True, value={"rolled": [4, 2]}))
    fake_llm.enqueue(tool_call("roll_dice", {"sides": 6, "times": 2, "request_heartbeat": True, "colour": "red"}),
                     tool_call("send_message", {"message": "4 and 2"}))
    result, _, _ = run(Event("user_message", "roll two dice"), store_with(SEND, ROLL), tool_runner=runner)
    assert (result.status, result.stop_reason) == ("completed", "end_turn")
    first, second = fake_llm.chat_requests()
    assert [t["function"]["name"] for t in first["tools"]] == ["send_message", "roll_dice"]
    assert runner.calls == [("roll_dice", {"sides": 6, "times": 2})]  # no heartbeat flag, nothing it cannot take
    assert results_of(second) == [{"status": "OK", "message": '{"rolled": [4, 2]}', "time": results_of(second)[0]["time"]}]
    assert fake_llm.refused == []


def test_wrong_arguments_never_reach_the_runner(run, fake_llm):
    runner = Runner()
    fake_llm.enqueue(tool_call("roll_dice", {"sides": "six"}), tool_call("roll_dice", {}),
                     tool_call("send_message", {"message": "sorry"}))
    run(Event("user_message", "roll"), store_with(SEND, ROLL), tool_runner=runner)
    assert runner.calls == []
    wrong_type, missing = (results_of(r)[-1]["message"] for r in fake_llm.chat_requests()[1:])
    assert wrong_type == "Invalid arguments for roll_dice: argument 'sides': 'six' is not of type 'integer'"
    assert missing == "Invalid arguments for roll_dice: 'sides' is a required property"


def test_a_failed_run_is_a_failed_result_with_its_traceback_then_a_heartbeat(run, fake_llm):
    runner = Runner(ToolRun(ok=False, error="ZeroDivisionError: division by zero",
                            traceback='File "<tool>", line 2, in roll_dice'),
                    ToolRun(ok=True, value="x" * 100))
    fake_llm.enqueue(tool_call("roll_dice", {"sides": 0}), tool_call("roll_dice", {"sides": 6, "request_heartbeat": True}),
                     tool_call("send_message", {"message": "done"}))
    result, _, _ = run(Event("user_message", "roll"), store_with(SEND, ROLL), tool_runner=runner)
    assert result.status == "completed"
    failed = results_of(fake_llm.chat_requests()[1])[-1]
    assert failed["status"] == "Failed"
    assert failed["message"].startswith("roll_dice failed: ZeroDivisionError: division by zero\nFile \"<tool>\", line 2")
    long = results_of(fake_llm.chat_requests()[2])[-1]["message"]
    assert long == "x" * 40 + " [… 60 more characters cut]"  # its return_char_limit


def test_a_tool_not_in_the_set_is_unknown_and_no_tools_sends_no_tools(run, fake_llm):
    fake_llm.enqueue(tool_call("archival_memory_insert", {"content": "x"}), tool_call("send_message", {"message": "ok"}))
    run(Event("user_message", "hi"), store_with(SEND))
    [unknown] = results_of(fake_llm.chat_requests()[1])
    assert unknown["message"] == "Unknown tool 'archival_memory_insert'. Available tools: send_message."

    fake_llm.reset()
    fake_llm.enqueue(text("Hello."))  # an agent without tools can only answer in text
    run(Event("user_message", "hi"), store_with())
    [request] = fake_llm.chat_requests()
    assert "tools" not in request and "tool_choice" not in request
    assert fake_llm.refused == []


def test_without_a_runner_a_custom_tool_fails_clearly(run, fake_llm):
    fake_llm.enqueue(tool_call("roll_dice", {"sides": 6}), tool_call("send_message", {"message": "ok"}))
    run(Event("user_message", "roll"), store_with(SEND, ROLL))
    assert results_of(fake_llm.chat_requests()[1])[-1]["message"] == (
        "roll_dice is a custom tool, and custom tools cannot run here.")
