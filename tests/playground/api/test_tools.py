"""Tools through the official SDK: a person's Python functions (create, upsert, modify, delete,
list in pages, search), an agent's tool set (attach, detach, tool rules), a tool run by hand in the
sandbox, and a turn in which the model calls a custom tool."""

import itertools
import json

import pytest
from letta_client import BadRequestError, ConflictError, NotFoundError, PermissionDeniedError
from letta_client.types import ToolReturnMessage

from agents.engine.tools import BASE_TOOL_NAMES, MULTI_AGENT_TOOL_NAMES, TOOL_NAMES
from agents.models import Agent, Tool
from agents.services import agent_create, tool_create
from playground.api.serializers.agents import AgentCreate, AgentUpdate, agent_tool_fields
from tests.fake_llm import tool_call

pytestmark = pytest.mark.django_db(transaction=True)

ROLL_DICE = '''def roll_dice(sides: int) -> str:
    """Roll a die.

    Args:
        sides: How many sides the die has.
    """
    return f"rolled {sides}"
'''

ROLL_DICE_TWICE = '''def roll_dice(sides: int, times: int = 1) -> str:
    """Roll a die, once or more.

    Args:
        sides: How many sides the die has.
        times: How many times to roll it.
    """
    return f"rolled {sides}" if times == 1 else f"rolled {sides} {times} times"
'''


def source(name: str, body: str = "return 'ok'", doc: str = "Does a thing.") -> str:
    return f'def {name}() -> str:\n    """{doc}"""\n    {body}\n'


def test_a_turn_calls_a_custom_tool_that_runs_in_the_sandbox(api, live_llm):
    created = api.sdk.tools.create(source_code=ROLL_DICE, tags=["games"])
    assert (created.name, created.tool_type, created.source_type, created.tags) == ("roll_dice", "custom", "python", ["games"])
    assert created.json_schema["parameters"]["properties"]["sides"] == {"type": "integer",
                                                                        "description": "How many sides the die has."}
    upserted = api.sdk.tools.upsert(source_code=ROLL_DICE_TWICE)
    assert upserted.id == created.id  # the same tool, its source replaced
    assert "times" in upserted.json_schema["parameters"]["properties"]
    assert upserted.description.startswith("Roll a die, once or more.")
    assert api.sdk.tools.retrieve(created.id).source_code == ROLL_DICE_TWICE

    agent = api.sdk.agents.create(name="Sam", memory_blocks=[{"label": "human", "value": "Ada"}])
    state = api.sdk.agents.tools.attach(created.id, agent_id=agent.id)
    assert "roll_dice" in [t.name for t in state.tools]
    live_llm.enqueue(tool_call("roll_dice", {"sides": 6, "request_heartbeat": True}, content="Let me roll."),
                     tool_call("send_message", {"message": "A six!"}))
    response = api.sdk.agents.messages.create(agent.id, messages=[{"role": "user", "content": "Roll a d6"}])

    [result] = [m for m in response.messages if isinstance(m, ToolReturnMessage)]
    assert (result.name, result.status, result.tool_return) == ("roll_dice", "success", "rolled 6")
    first, second = live_llm.chat_requests()[-2:]
    [offered] = [t["function"] for t in first["tools"] if t["function"]["name"] == "roll_dice"]
    assert offered == upserted.json_schema
    last_tool = [m for m in second["messages"] if m["role"] == "tool"][-1]
    assert "rolled 6" in last_tool["content"] and last_tool["tool_call_id"] == result.tool_call_id


def test_listing_every_page_with_the_sdk_ends_and_gives_each_tool_once(api, other):
    mine = [tool_create(owner=api.user, source_code=source(f"tool_{n:02d}")) for n in range(30)]
    tool_create(owner=other.user, source_code=source("not_yours"))
    expected = [t.pk for t in Tool.objects.filter(kind="builtin")] + [t.pk for t in mine]

    for order, wanted in (("asc", sorted(expected)), ("desc", sorted(expected, reverse=True))):
        # the pages are fetched as the SDK iterates; a cursor it ignored would repeat them forever
        seen = [t.id for t in itertools.islice(api.sdk.tools.list(limit=4, order=order), 500)]
        assert seen == [f"tool-{pk}" for pk in wanted], order
    page = api.sdk.tools.list(limit=5, before=f"tool-{mine[10].pk}", order="asc")
    assert [t.name for t in page.items] == [f"tool_{n:02d}" for n in range(5, 10)]
    agent = agent_create(owner=api.user, name="Sam", tool_ids=[t.pk for t in mine])
    seen = [t.id for t in itertools.islice(api.sdk.agents.tools.list(f"agent-{agent.pk}", limit=6), 500)]
    base = [t.pk for t in Tool.objects.filter(name__in=BASE_TOOL_NAMES)] + [t.pk for t in mine]
    assert sorted(seen) == sorted(f"tool-{pk}" for pk in base) and len(set(seen)) == len(seen)


def test_list_filters(api, other):
    dice = api.sdk.tools.create(source_code=ROLL_DICE, tags=["games"])
    coin = api.sdk.tools.create(source_code=source("flip_coin", doc="Flip a coin."), tags=["games", "coins"])
    tool_create(owner=other.user, source_code=source("flip_card"))

    def names(**params) -> list[str]:
        return [t.name for t in api.sdk.tools.list(**params).items]

    assert names(name="roll_dice") == ["roll_dice"]
    assert names(search="FLIP") == ["flip_coin"]
    assert names(tool_types=["custom"]) == ["roll_dice", "flip_coin"]
    assert set(names(tool_types=["letta_memory_core"])) == {"core_memory_append", "core_memory_replace"}
    assert set(names(exclude_tool_types=["custom"])) == set(TOOL_NAMES)
    assert set(names(return_only_letta_tools=True)) == set(BASE_TOOL_NAMES)
    assert set(names(tool_types=["letta_multi_agent_core"])) == {*MULTI_AGENT_TOOL_NAMES, "send_message_to_all_agents_in_group"}
    assert names(tool_ids=[coin.id, dice.id]) == ["roll_dice", "flip_coin"]
    assert names(names=["flip_coin", "send_message"]) == ["send_message", "flip_coin"]
    found = api.sdk.tools.search(query="coin", limit=5)
    assert [r.tool.name for r in found] == ["flip_coin"] and found[0].combined_score == 1.0
    assert {r.tool.name for r in api.sdk.tools.search(tags=["games"])} == {"roll_dice", "flip_coin"}


def test_modify_and_delete(api):
    tool = api.sdk.tools.create(source_code=ROLL_DICE)
    changed = api.sdk.tools.update(tool.id, description="Roll one die.", tags=["x"], return_char_limit=100,
                                   pip_requirements=[{"name": "requests", "version": "2.32.3"}, {"name": "numpy"}])
    assert (changed.description, changed.tags, changed.return_char_limit) == ("Roll one die.", ["x"], 100)
    assert changed.json_schema["description"] == "Roll one die."  # what the model reads
    assert [(r.name, r.version) for r in changed.pip_requirements] == [("requests", "2.32.3"), ("numpy", None)]
    assert Tool.objects.get(pk=changed.id.removeprefix("tool-")).pip_requirements == ["requests==2.32.3", "numpy"]
    renamed = api.sdk.tools.update(tool.id, source_code=source("roll_die"))
    assert (renamed.id, renamed.name) == (tool.id, "roll_die")
    api.sdk.tools.delete(tool.id)
    with pytest.raises(NotFoundError):
        api.sdk.tools.retrieve(tool.id)


def test_refusals_say_why(api, other):
    with pytest.raises(BadRequestError) as error:
        api.sdk.tools.create(source_code="def roll(sides: tuple) -> str:\n    'Roll.'\n    return ''\n")
    assert "line 1:" in error.value.body["detail"] and "tuple" in error.value.body["detail"]
    with pytest.raises(BadRequestError) as error:
        api.sdk.tools.create(source_code="def send_message(message: str) -> str:\n    'Say it.'\n    return ''\n")
    assert "built-in tool's name" in error.value.body["detail"]
    tool = api.sdk.tools.create(source_code=ROLL_DICE)
    with pytest.raises(ConflictError) as error:
        api.sdk.tools.create(source_code=ROLL_DICE)
    assert "PUT /v1/tools/" in error.value.body["detail"]
    with pytest.raises(BadRequestError) as error:
        api.sdk.tools.update(tool.id, source_code="def broken(:\n")
    assert "line 1" in error.value.body["detail"]

    send_message = api.sdk.tools.list(name="send_message").items[0]
    with pytest.raises(PermissionDeniedError) as error:
        api.sdk.tools.update(send_message.id, description="mine now")
    assert "send_message is a built-in tool" in error.value.body["detail"]
    with pytest.raises(PermissionDeniedError):
        api.sdk.tools.delete(send_message.id)
    assert Tool.objects.get(owner=None, name="send_message").description != "mine now"

    # someone else's tool does not exist for them, and their name is free
    agent = other.sdk.agents.create(name="Mal")
    for attempt in (lambda: other.sdk.tools.retrieve(tool.id), lambda: other.sdk.tools.update(tool.id, tags=["y"]),
                    lambda: other.sdk.tools.delete(tool.id),
                    lambda: other.sdk.agents.tools.attach(tool.id, agent_id=agent.id)):
        with pytest.raises(NotFoundError):
            attempt()
    assert other.sdk.tools.create(source_code=ROLL_DICE).id != tool.id
    assert api.sdk.tools.retrieve(tool.id).tags == []


def test_attach_and_detach_answer_the_agent(api):
    tool = api.sdk.tools.create(source_code=ROLL_DICE)
    agent = api.sdk.agents.create(name="Sam", include_base_tools=False)
    assert agent.tools == [] and api.sdk.agents.tools.list(agent.id).items == []
    attached = api.sdk.agents.tools.attach(tool.id, agent_id=agent.id)
    assert attached.id == agent.id and [t.id for t in attached.tools] == [tool.id]
    assert [t.name for t in api.sdk.agents.tools.list(agent.id).items] == ["roll_dice"]
    assert api.sdk.agents.retrieve(agent.id).tools == attached.tools
    assert api.sdk.agents.tools.detach(tool.id, agent_id=agent.id).tools == []
    assert api.sdk.tools.retrieve(tool.id).name == "roll_dice"  # detached, not deleted
    full = api.sdk.agents.create(name="Ann")
    assert [t.name for t in full.tools] == BASE_TOOL_NAMES  # in the engine's order
    assert {t.tool_type for t in full.tools} == {"letta_core", "letta_memory_core"}
    with pytest.raises(NotFoundError):
        api.sdk.agents.tools.attach("tool-99999999", agent_id=agent.id)


def test_running_a_tool_by_hand_in_the_sandbox(api):
    agent = api.sdk.agents.create(name="Sam", memory_blocks=[{"label": "human", "value": "Name: Ada"}])
    for code in (ROLL_DICE,
                 'def shout(text: str) -> str:\n    """Shout.\n\n    Args:\n        text: What.\n    """\n'
                 '    print("about to shout")\n    return text.upper() + 1\n',
                 'def who(agent_state: "AgentState") -> str:\n    """Who is the human."""\n'
                 '    return agent_state.memory.get_block("human").value\n'):
        api.sdk.agents.tools.attach(api.sdk.tools.create(source_code=code).id, agent_id=agent.id)

    ran = api.sdk.agents.tools.run("roll_dice", agent_id=agent.id, args={"sides": 20})
    assert (ran.status, ran.func_return, ran.model_extra["tool_return"]) == ("success", "rolled 20", "rolled 20")
    assert ran.model_extra["duration"] > 0
    failed = api.sdk.agents.tools.run("shout", agent_id=agent.id, args={"text": "hi"})
    assert failed.status == "error" and failed.stdout == ["about to shout"]
    assert "TypeError" in failed.model_extra["error"] and "line 8, in shout" in failed.model_extra["traceback"]
    assert api.sdk.agents.tools.run("who", agent_id=agent.id).func_return == "Name: Ada"

    with pytest.raises(NotFoundError):
        api.sdk.agents.tools.run("web_search", agent_id=agent.id)
    with pytest.raises(BadRequestError) as error:
        api.sdk.agents.tools.run("send_message", agent_id=agent.id, args={"message": "hi"})
    assert "built-in tool" in error.value.body["detail"]


def test_tool_rules_are_checked_and_returned(api, other):
    tool = tool_create(owner=api.user, source_code=ROLL_DICE)
    theirs = tool_create(owner=other.user, source_code=source("flip_coin"))
    rules = [{"tool_name": "roll_dice", "type": "constrain_child_tools", "children": ["send_message"]},
             {"tool_name": "send_message", "type": "exit_loop"},
             {"tool_name": "roll_dice", "type": "max_count_per_step", "max_count_limit": 2}]

    def fields(data: dict, serializer=AgentCreate, agent=None) -> dict:
        valid = serializer(data={"name": "x", **data})
        valid.is_valid(raise_exception=True)
        return agent_tool_fields(api.user, valid.validated_data, agent=agent)

    asked = fields({"tools": ["roll_dice"], "tool_rules": rules})
    assert asked == {"tool_ids": [tool.pk], "tool_rules": rules}
    assert fields({"tool_ids": [f"tool-{tool.pk}"]}) == {"tool_ids": [tool.pk]}
    refusals = [
        ({"tools": ["flip_coin"]}, "Unknown tool 'flip_coin'"),
        ({"tool_ids": [f"tool-{theirs.pk}"]}, f"Unknown tool 'tool-{theirs.pk}'"),
        ({"tool_ids": ["nonsense"]}, "Unknown tool 'nonsense'"),
        ({"tool_rules": [{"tool_name": "roll_dice", "type": "exit_loop"}]}, "'roll_dice', which the agent does not have"),
        ({"tools": ["roll_dice"], "include_base_tools": False, "tool_rules": rules[1:2]}, "'send_message'"),
        ({"tool_rules": [{"tool_name": "send_message", "type": "explode"}]}, '"explode" is not a tool rule type'),
        ({"tool_rules": [{"tool_name": "send_message", "type": "max_count_per_step"}]}, "max_count_limit"),
        ({"tool_rules": [{"tool_name": "send_message", "type": "constrain_child_tools"}]}, "children"),
    ]
    for data, problem in refusals:
        with pytest.raises(Exception) as error:
            fields(data)
        assert problem in str(error.value.detail), data

    agent = agent_create(owner=api.user, name="Sam", tool_ids=[tool.pk])
    assert fields({"tool_rules": rules}, AgentUpdate, agent) == {"tool_rules": rules}
    with pytest.raises(Exception) as error:
        fields({"tool_ids": [], "tool_rules": rules}, AgentUpdate, agent)
    assert "'roll_dice', which the agent does not have" in str(error.value.detail)

    # through the SDK: modify stores them as given and the agent answers them
    state = api.sdk.agents.update(f"agent-{agent.pk}", tool_rules=rules)
    assert [r.model_dump(exclude_none=True) for r in state.tool_rules] == rules
    assert Agent.objects.get(pk=agent.pk).tool_rules == rules
    assert api.sdk.agents.retrieve(state.id).tool_rules == state.tool_rules
    for bad, problem in (([{"tool_name": "flip_coin", "type": "exit_loop"}], "'flip_coin'"),
                         ([{"tool_name": "roll_dice", "type": "explode"}], '"explode" is not a tool rule type'),
                         ([{"tool_name": "roll_dice", "type": "conditional"}], "child_output_mapping")):
        with pytest.raises(BadRequestError) as error:
            api.sdk.agents.update(state.id, tool_rules=bad)
        assert problem in error.value.body["detail"], bad
    with pytest.raises(BadRequestError) as error:  # a rule names it
        api.sdk.agents.tools.detach(f"tool-{tool.pk}", agent_id=state.id)
    assert "roll_dice" in error.value.body["detail"]
    assert Agent.objects.get(pk=agent.pk).tool_rules == rules


def test_agent_create_and_modify_take_tools_and_rules(api):
    """Through the API. Needs the agents views to pass agent_tool_fields on to agent_create (which
    needs a tool_rules argument) and agent_update (a tool_ids argument): see the report of part 5."""
    tool = api.sdk.tools.create(source_code=ROLL_DICE)
    rules = [{"tool_name": "send_message", "type": "exit_loop"}]
    agent = api.sdk.agents.create(name="Sam", tools=["roll_dice"], include_base_tools=False,
                                  tool_ids=[api.sdk.tools.list(name="send_message").items[0].id], tool_rules=rules)
    assert sorted(t.name for t in agent.tools) == ["roll_dice", "send_message"]
    assert [r.model_dump(exclude_none=True) for r in agent.tool_rules] == rules
    with pytest.raises(BadRequestError) as error:
        api.sdk.agents.create(name="x", tools=["web_search"])
    assert "Unknown tool 'web_search'" in error.value.body["detail"]
    changed = api.sdk.agents.update(agent.id, tool_ids=[tool.id], tool_rules=[])
    assert [t.name for t in changed.tools] == ["roll_dice"] and changed.tool_rules == []


def test_export_and_import_carry_custom_tools(api, other):
    tool = api.sdk.tools.create(source_code=ROLL_DICE, tags=["games"],
                                pip_requirements=[{"name": "requests", "version": "2.32.3"}])
    agent = api.sdk.agents.create(name="Sam", include_base_tools=False)
    send_message = api.sdk.tools.list(name="send_message").items[0]
    api.sdk.agents.tools.attach(tool.id, agent_id=agent.id)
    api.sdk.agents.tools.attach(send_message.id, agent_id=agent.id)
    rules = [{"tool_name": "roll_dice", "type": "constrain_child_tools", "children": ["send_message"]}]
    api.sdk.agents.update(agent.id, tool_rules=rules)

    exported = api.sdk.agents.export_file(agent.id)
    file = json.loads(exported)
    assert [(t["name"], t["tool_type"], t["source_code"]) for t in file["tools"]] == [
        ("send_message", "letta_core", None), ("roll_dice", "custom", ROLL_DICE)]
    assert file["agents"][0]["tool_ids"] == ["tool-0", "tool-1"] and file["agents"][0]["tool_rules"] == rules

    # the same user: their tool is reused
    [copy_id] = api.sdk.agents.import_file(file=("sam.af", exported.encode(), "application/json")).agent_ids
    copy = api.sdk.agents.retrieve(copy_id)
    assert [t.id for t in copy.tools] == [send_message.id, tool.id]
    assert [r.model_dump(exclude_none=True) for r in copy.tool_rules] == rules
    # someone else: the tool is made theirs, with its source, tags and requirements
    [theirs_id] = other.sdk.agents.import_file(file=("sam.af", exported.encode(), "application/json")).agent_ids
    [theirs] = [t for t in other.sdk.agents.retrieve(theirs_id).tools if t.name == "roll_dice"]
    assert theirs.id != tool.id and other.sdk.tools.retrieve(theirs.id).source_code == ROLL_DICE
    assert (theirs.tags, [(r.name, r.version) for r in theirs.pip_requirements]) == (["games"], [("requests", "2.32.3")])
    # a tool of the same name with other source is not replaced behind the owner's back
    api.sdk.tools.upsert(source_code=ROLL_DICE_TWICE)
    with pytest.raises(BadRequestError) as error:
        api.sdk.agents.import_file(file=("sam.af", exported.encode(), "application/json"))
    assert "You have a tool named 'roll_dice' already, with other source" in error.value.body["detail"]
    assert api.sdk.tools.retrieve(tool.id).source_code == ROLL_DICE_TWICE
    # bad source in a file is refused with its line
    file["tools"][1]["source_code"] = "def roll_dice(:\n"
    with pytest.raises(BadRequestError) as error:
        other.sdk.agents.import_file(file=("bad.af", json.dumps(file).encode(), "application/json"))
    assert "The tool 'roll_dice': line 1" in error.value.body["detail"]
