"""Replays on the real stack: a step's request sent again with exactly the changes asked for, on a worker,
touching nothing of the agent's; the answer kept beside the stored one."""

import copy

import pytest

from agents.errors import ReplayRefused
from agents.history.replay import replay_comparison, replay_enqueue, replay_request, replay_run
from agents.models import Run, Step, StepReplay, Tool
from agents.services import agent_create, turn_enqueue
from memory.models import BlockRevision, Message
from tests.factories import make_user
from tests.fake_llm import error, text, tool_call
from tests.helpers import wait_for_runs, wait_until

pytestmark = pytest.mark.django_db(transaction=True)
HUMAN = "Name: Ada Lovelace"


@pytest.fixture
def agent(db):
    return agent_create(owner=make_user(), name="Sam", persona="I am Sam.", human=HUMAN)


@pytest.fixture
def step(agent, llm, celery_worker):
    """The agent's one step, answered with a thought and a send_message; what the server received for it is
    `step.sent`."""
    llm.enqueue(tool_call("send_message", {"message": "Hello Ada!"}, content="She greets me.",
                          usage={"prompt_tokens": 900, "completion_tokens": 20, "total_tokens": 920}))
    turn_enqueue(agent=agent, text="Hi, I'm Ada")
    [run] = wait_for_runs(agent)
    assert run.status == Run.Status.COMPLETED, run.error
    step = Step.objects.get(agent=agent)
    [step.sent] = llm.chat_requests()
    llm.reset()
    return step


def footprint(agent) -> dict:
    """Everything of the agent's a replay must leave as it was."""
    agent.refresh_from_db()
    return {
        "messages": list(Message.objects.filter(agent=agent).values_list("id", "content", "in_context")),
        "steps": list(Step.objects.filter(agent=agent).values_list("id", flat=True)),
        "runs": list(Run.objects.filter(agent=agent).values_list("id", "status")),
        "revisions": BlockRevision.objects.filter(block__in=agent.blocks.all()).count(),
        "blocks": sorted(agent.blocks.values_list("label", "value")),
        "agent": (agent.updated_at, agent.memory_edited_at, agent.model, agent.temperature, agent.system),
    }


def replayed(step, changes) -> StepReplay:
    """Replay the step on the worker (the scripted server answers what the test enqueued); the replay, done."""
    replay = replay_enqueue(step=step, changes=changes, user=step.agent.owner)
    wait_until(lambda: StepReplay.objects.filter(pk=replay.pk, status__in=["done", "failed"]).exists(),
               timeout=30, message="the replay")
    replay.refresh_from_db()
    return replay


def system_of(request) -> str:
    return request["messages"][0]["content"]


def expected_after(step, change: str) -> dict:
    """The request the server received for the step, with one change made by hand."""
    sent = copy.deepcopy(step.sent)
    system = system_of(sent)
    if change == "model":
        sent["model"] = "gpt-4.1"
    elif change == "temperature":
        sent["temperature"] = 0.3
    elif change == "system":
        assert system.startswith(step.agent.system + "\n\n")
        sent["messages"][0]["content"] = "You are a pirate." + system[len(step.agent.system):]
    elif change == "blocks":
        assert system.count(f"<value>\n{HUMAN}\n</value>") == 1 and system.count("chars_current=18") == 1
        sent["messages"][0]["content"] = (system.replace(f"<value>\n{HUMAN}\n</value>", "<value>\nGrace\n</value>")
                                          .replace("chars_current=18", "chars_current=5"))
    elif change == "fewer tools":
        sent["tools"] = [t for t in sent["tools"] if t["function"]["name"] != "conversation_search"]
    elif change == "another tool":
        sent["tools"].append(Tool.objects.get(owner=None, name="send_message_to_agent_async").json_schema)
    elif change == "no tools":
        del sent["tools"], sent["tool_choice"]
    return sent


def tool_names(step) -> list[str]:
    return [t["function"]["name"] for t in step.sent["tools"]]


CHANGES = {
    "model": lambda step: {"model": "openai/gpt-4.1"},
    "temperature": lambda step: {"temperature": 0.3},
    "system": lambda step: {"system": "You are a pirate."},
    "blocks": lambda step: {"blocks": {"human": "Grace"}},
    "fewer tools": lambda step: {"tools": [n for n in tool_names(step) if n != "conversation_search"]},
    "another tool": lambda step: {"tools": [*tool_names(step), "send_message_to_agent_async"]},
    "no tools": lambda step: {"tools": []},
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_the_server_gets_the_step_request_with_exactly_the_change(agent, step, llm, change):
    before = footprint(agent)
    llm.enqueue(tool_call("send_message", {"message": "Ahoy!"}))

    replay = replayed(step, CHANGES[change](step))

    assert replay.status == "done", replay.error
    [sent] = llm.chat_requests()
    assert sent == expected_after(step, change)
    assert footprint(agent) == before
    assert replay.response["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "send_message"
    assert replay.finished_at is not None and replay.latency_ms > 0 and replay.created_by == agent.owner


def test_several_changes_at_once(agent, step, llm):
    llm.enqueue(text("Arr."))
    replay = replayed(step, {"model": "gpt-4.1", "temperature": 1.5, "system": "You are a pirate.",
                                "blocks": {"human": "Grace"}, "tools": ["send_message"]})
    [sent] = llm.chat_requests()
    expected = expected_after(step, "blocks")
    expected["messages"][0]["content"] = "You are a pirate." + system_of(expected)[len(agent.system):]
    expected.update(model="gpt-4.1", temperature=1.5,
                    tools=[t for t in step.sent["tools"] if t["function"]["name"] == "send_message"])
    assert sent == expected
    assert replay.changes == {"model": "gpt-4.1", "temperature": 1.5, "system": "You are a pirate.",
                              "blocks": {"human": "Grace"}, "tools": ["send_message"]}
    differences = replay_comparison(replay=replay)["request_differences"]
    assert differences[0] == ".tools: " + ", ".join(f"-{n}" for n in tool_names(step) if n != "send_message")
    assert [d.partition(":")[0] for d in differences[1:]] == [".model", ".messages[0].content", ".temperature"]


def test_a_replay_without_changes_counts_the_prompt_as_the_step_did(step, llm):
    llm.enqueue(tool_call("send_message", {"message": "Hello again, Ada!"}))
    replay = replayed(step, {})
    assert llm.chat_requests() == [step.sent]
    tokens = replay.tokens
    assert tokens["prompt_total"] == step.tokens["prompt_total"]
    for tier in ("system_instructions", "core_memory", "memory_metadata", "tool_schemas"):
        assert tokens[tier] == step.tokens[tier], tier
    assert tokens["messages"] == step.tokens["messages"] + step.tokens["summary"]


def test_the_comparison_shows_text_calls_and_tokens_side_by_side(step, llm):
    llm.enqueue(tool_call("send_message", {"message": "Hello Grace!", "extra": 1}, content="She greets me warmly.",
                          usage={"prompt_tokens": 700, "completion_tokens": 30, "total_tokens": 730}))
    replay = replayed(step, {"blocks": {"human": "Grace"}})

    comparison = replay_comparison(replay=replay)

    assert comparison["stored"]["content"] == "She greets me."
    assert comparison["new"]["content"] == "She greets me warmly."
    assert comparison["content_diff"] == [{"op": "equal", "text": "She greets "},
                                          {"op": "remove", "text": "me."}, {"op": "add", "text": "me warmly."}]
    assert comparison["line_diff"][2:] == ["@@ -1 +1 @@", "-She greets me.", "+She greets me warmly."]
    [call] = comparison["tool_calls_diff"]
    assert (call["name"], call["stored_name"], call["new_name"]) == ("same", "send_message", "send_message")
    assert call["arguments"] == [{"key": "message", "change": "changed", "stored": "Hello Ada!", "new": "Hello Grace!"},
                                 {"key": "extra", "change": "added", "stored": None, "new": 1}]
    assert comparison["tokens"]["prompt"] == {"stored": 900, "new": 700}
    assert comparison["tokens"]["completion"] == {"stored": 20, "new": 30}
    ours = comparison["tokens"]["ours"]
    assert ours["stored"] == step.tokens["prompt_total"] and 0 < ours["new"] < ours["stored"]  # a shorter block
    assert comparison["latency_ms"]["new"] == replay.latency_ms
    [where] = comparison["request_differences"]
    assert where.startswith(".messages[0].content: '…") and "<value>\\nGrace\\n</value>" in where


def test_a_provider_error_is_kept_on_the_replay(agent, step, llm):
    before = footprint(agent)
    llm.enqueue(error(400, "The model `gpt-4.1` does not exist", code="model_not_found"))
    replay = replayed(step, {"model": "gpt-4.1"})
    assert replay.status == "failed"
    assert "does not exist" in replay.error
    assert replay.response is None and replay.finished_at is not None
    assert footprint(agent) == before
    assert replay_comparison(replay=replay)["new"]["error"] == replay.error


@pytest.mark.parametrize("changes, says", [
    ({"blocks": {"nobody": "x"}}, "No block labelled 'nobody'"),
    ({"tools": ["send_message", "launch_rockets"]}, "No tool named 'launch_rockets'"),
    ({"temperature": 5}, "temperature"),
    ({"temperature": float("nan")}, "temperature"),
    ({"model": "openai/no-such-model"}, "Unknown model 'openai/no-such-model'"),
    ({"model": "   "}, "model: Value error, name a model"),
    ({"colour": "red"}, "colour"),
])
def test_changes_that_cannot_be_made_are_refused(step, changes, says):
    with pytest.raises(ReplayRefused, match=says):
        replay_enqueue(step=step, changes=changes, user=step.agent.owner)
    assert not StepReplay.objects.exists()


def test_another_users_tools_are_not_offered(step):
    other = make_user()
    Tool.objects.create(owner=other, name="secret_tool", json_schema={"type": "function", "function": {
        "name": "secret_tool", "description": "", "parameters": {"type": "object", "properties": {}}}})
    with pytest.raises(ReplayRefused, match="secret_tool"):
        replay_request(step=step, changes={"tools": ["secret_tool"]})


def test_a_step_without_state_replays_model_temperature_and_tools_only(step, llm):
    Step.objects.filter(pk=step.pk).update(state={})
    step.refresh_from_db()
    with pytest.raises(ReplayRefused, match="recorded before steps kept the agent's state"):
        replay_request(step=step, changes={"system": "You are a pirate."})
    with pytest.raises(ReplayRefused, match="recorded before steps kept the agent's state"):
        replay_request(step=step, changes={"blocks": {"human": "Grace"}})
    request = replay_request(step=step, changes={"model": "gpt-4.1", "temperature": 0.0, "tools": ["send_message"]})
    assert (request["model"], request["temperature"]) == ("gpt-4.1", 0.0)
    assert [t["function"]["name"] for t in request["tools"]] == ["send_message"]
    assert request["messages"] == step.request["messages"]


def test_the_task_is_quiet_about_a_replay_gone_or_taken(step):
    replay_run(replay_id=987654321)
    replay = StepReplay.objects.create(step=step, changes={}, request=step.request, status=StepReplay.Status.DONE)
    replay_run(replay_id=replay.pk)
    replay.refresh_from_db()
    assert replay.status == "done" and replay.finished_at is None


def test_a_json_protocol_step_gets_its_tool_section_rebuilt(llm, celery_worker):
    agent = agent_create(owner=make_user(), name="Jay", persona="I am Jay.", human=HUMAN)
    agent.tool_protocol = "json"
    agent.save()
    llm.enqueue(text('{"thinking": "Greet her.", "tool": "send_message", "arguments": {"message": "Hi Ada"}}'))
    turn_enqueue(agent=agent, text="Hi")
    wait_for_runs(agent)
    step = Step.objects.get(agent=agent)
    [original] = llm.chat_requests()
    llm.reset()
    assert "tools" not in original and "- archival_memory_search:" in system_of(original)

    llm.enqueue(text('{"thinking": "Greet Grace.", "tool": "send_message", "arguments": {"message": "Hi Grace"}}'))
    replay = replayed(step, {"tools": ["send_message"], "blocks": {"human": "Grace"}})

    [sent] = llm.chat_requests()
    system = system_of(sent)
    assert "- send_message:" in system and "- archival_memory_search:" not in system
    assert "<value>\nGrace\n</value>" in system and sent["messages"][1:] == original["messages"][1:]
    comparison = replay_comparison(replay=replay)
    assert comparison["new"]["tool_calls"] == [{"name": "send_message", "arguments": '{"message": "Hi Grace"}'}]
    assert comparison["tool_calls_diff"][0]["arguments"][0]["change"] == "changed"
