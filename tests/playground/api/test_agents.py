"""Agents through the official SDK: create with memory blocks and settings, list with filters,
retrieve, update, delete."""

import pytest
from letta_client import APIStatusError, BadRequestError, ConflictError, NotFoundError

from agents.engine.tools import BASE_TOOL_NAMES, MULTI_AGENT_TOOL_NAMES
from memory.models import Block

pytestmark = pytest.mark.django_db(transaction=True)


def test_create_with_blocks_and_settings(api):
    agent = api.sdk.agents.create(
        name="Sam", model="openai/gpt-4.1", embedding="local/all-MiniLM-L6-v2", system="You are Sam.",
        context_window_limit=16000, tags=["demo", "chess"], description="plays chess",
        memory_blocks=[{"label": "persona", "value": "I am Sam.", "limit": 2000, "description": "who I am"},
                       {"label": "human", "value": "", "read_only": True}])
    same = api.sdk.agents.retrieve(agent.id)
    assert same == agent
    assert (same.name, same.system, same.description, same.tags) == ("Sam", "You are Sam.", "plays chess", ["demo", "chess"])
    assert (same.model, same.llm_config.model, same.llm_config.context_window) == ("openai/gpt-4.1", "gpt-4.1", 16000)
    assert (same.embedding, same.embedding_config.embedding_dim) == ("local/all-MiniLM-L6-v2", 384)
    assert [(b.label, b.value, b.limit, b.description, b.read_only) for b in same.blocks] == [
        ("persona", "I am Sam.", 2000, "who I am", False), ("human", "", 5000, "", True)]
    assert same.memory.blocks == same.blocks
    assert {t.name for t in same.tools} >= {"send_message", "core_memory_append", "archival_memory_search"}


def test_model_names_bare_or_as_handles_and_defaults(api):
    bare = api.sdk.agents.create(name="a", model="gpt-4.1")
    assert (bare.model, bare.llm_config.model) == ("openai/gpt-4.1", "gpt-4.1")
    default = api.sdk.agents.create(name="b")  # LLM_MODEL of the server, persona and human blocks
    assert default.model == "openai/gpt-4o-mini"
    assert [b.label for b in default.blocks] == ["persona", "human"]
    assert default.name == "b" and "You are b" in default.system
    unnamed = api.sdk.agents.create(memory_blocks=[])
    assert unnamed.name.startswith("agent-") and unnamed.blocks == []


def test_create_refuses_what_it_cannot_do(api):
    cases = [
        ({"memory_blocks": [{"label": "human", "value": "a"}, {"label": "human", "value": "b"}]}, "labelled 'human'"),
        ({"memory_blocks": [{"label": "human", "value": "x" * 20, "limit": 10}]}, "over the limit"),
        ({"memory_blocks": [{"label": "my block", "value": ""}]}, "without spaces"),
        ({"embedding": "openai"}, "unknown embedding model"),
        ({"context_window_limit": 100}, "context_window_limit"),
        ({"model_settings": {"temperature": 5}}, "temperature"),
    ]
    for arguments, problem in cases:
        with pytest.raises(BadRequestError) as error:
            api.sdk.agents.create(name="x", **arguments)
        assert problem in error.value.body["detail"], arguments
    with pytest.raises(NotFoundError):
        api.sdk.agents.create(name="x", block_ids=["block-999999"])
    assert not Block.objects.exists()


def test_list_with_filters_and_cursors(api):
    made = [api.sdk.agents.create(name=f"agent {n}", tags=tags, memory_blocks=[])
            for n, tags in enumerate([["a"], ["a", "b"], ["b"], []])]
    ids = [a.id for a in made]
    assert [a.id for a in api.sdk.agents.list().items] == ids[::-1]  # newest first
    assert [a.id for a in api.sdk.agents.list(order="asc").items] == ids
    assert [a.id for a in api.sdk.agents.list(tags=["a"], order="asc").items] == ids[:2]
    assert [a.id for a in api.sdk.agents.list(tags=["a", "b"], order="asc").items] == ids[:3]
    assert [a.id for a in api.sdk.agents.list(tags=["a", "b"], match_all_tags=True).items] == [ids[1]]
    assert [a.id for a in api.sdk.agents.list(name="agent 2").items] == [ids[2]]
    assert [a.id for a in api.sdk.agents.list(query_text="NT 3").items] == [ids[3]]
    assert [a.id for a in api.sdk.agents.list(limit=2, after=ids[2]).items] == ids[1::-1]
    assert [a.id for a in api.sdk.agents.list(limit=1, order="asc")] == ids  # the SDK pages through all


def test_update(api):
    agent = api.sdk.agents.create(name="Sam", memory_blocks=[{"label": "persona", "value": "I am Sam."}])
    notes = api.sdk.blocks.create(label="notes", value="to do")
    updated = api.sdk.agents.update(agent.id, name="Samuel", system="New rules.", tags=["x"], model="gpt-4.1",
                                    context_window_limit=32000, block_ids=[notes.id], model_settings={"temperature": 0.2})
    assert (updated.name, updated.system, updated.tags, updated.model) == ("Samuel", "New rules.", ["x"], "openai/gpt-4.1")
    assert (updated.llm_config.context_window, updated.llm_config.temperature) == (32000, 0.2)
    assert [b.label for b in updated.blocks] == ["notes"]
    assert api.sdk.agents.retrieve(agent.id) == updated


def test_delete_takes_the_blocks_no_other_agent_uses(api):
    shared = api.sdk.blocks.create(label="team", value="we ship on Fridays")
    one = api.sdk.agents.create(name="one", block_ids=[shared.id], memory_blocks=[{"label": "persona", "value": "1"}])
    two = api.sdk.agents.create(name="two", block_ids=[shared.id])
    api.sdk.agents.delete(one.id)
    with pytest.raises(NotFoundError):
        api.sdk.agents.retrieve(one.id)
    assert [b.label for b in Block.objects.all()] == ["team"]
    assert [b.id for b in api.sdk.agents.retrieve(two.id).blocks] == [shared.id]


def test_standalone_blocks_and_an_agents_blocks(api):
    agent = api.sdk.agents.create(name="Sam", memory_blocks=[{"label": "human", "value": "Ada"}])
    block = api.sdk.blocks.create(label="project", value="MemGPT", description="what we build", limit=100)
    assert api.sdk.blocks.retrieve(block.id) == block
    assert [b.id for b in api.sdk.blocks.list(label="project").items] == [block.id]
    assert [b.label for b in api.sdk.blocks.list(value_search="memg").items] == ["project"]

    state = api.sdk.agents.blocks.attach(block.id, agent_id=agent.id)
    assert [b.label for b in state.blocks] == ["human", "project"]
    assert [b.label for b in api.sdk.agents.blocks.list(agent.id).items] == ["human", "project"]
    # the SDK's iterator follows `after` until a page is empty: the cursor must move it on
    assert [b.label for b in api.sdk.agents.blocks.list(agent.id, limit=1)] == ["human", "project"]
    assert [b.label for b in api.sdk.agents.blocks.list(agent.id, order="desc").items] == ["project", "human"]
    assert api.sdk.agents.blocks.retrieve("project", agent_id=agent.id).id == block.id
    assert [a.id for a in api.sdk.blocks.agents.list(block.id).items] == [agent.id]
    assert [b.id for b in api.sdk.blocks.list(connected_to_agents_count_gt=0, order="asc").items] == [
        agent.blocks[0].id, block.id]

    changed = api.sdk.agents.blocks.update("project", agent_id=agent.id, value="MemGPT playground")
    assert api.sdk.blocks.retrieve(block.id).value == changed.value == "MemGPT playground"
    assert Block.objects.get(pk=int(block.id.split("-")[1])).revisions.count() == 1

    clash = api.sdk.blocks.create(label="human", value="someone else")
    with pytest.raises(ConflictError) as error:
        api.sdk.agents.blocks.attach(clash.id, agent_id=agent.id)
    assert "already has a block labelled 'human'" in error.value.body["detail"]
    assert error.value.response.headers["x-should-retry"] == "false"
    with pytest.raises(ConflictError):
        api.sdk.blocks.update(block.id, label="human")  # would clash on the agent
    with pytest.raises(BadRequestError) as error:
        api.sdk.blocks.update(block.id, value="x" * 101)
    assert "over the limit of 100" in error.value.body["detail"]

    state = api.sdk.agents.blocks.detach(block.id, agent_id=agent.id)
    assert [b.label for b in state.blocks] == ["human"]
    assert api.sdk.blocks.retrieve(block.id).value == "MemGPT playground"  # detached, not deleted
    api.sdk.blocks.delete(block.id)
    with pytest.raises(NotFoundError):
        api.sdk.blocks.retrieve(block.id)
    with pytest.raises(NotFoundError):
        api.sdk.agents.blocks.retrieve("project", agent_id=agent.id)


def test_tools_models_and_recompile(api):
    agent = api.sdk.agents.create(name="Sam", memory_blocks=[{"label": "human", "value": "Ada"}])
    tools = api.sdk.tools.list().items
    names = [t.name for t in tools]
    send_message = tools[names.index("send_message")]
    assert api.sdk.tools.retrieve(send_message.id).name == "send_message"
    # the base tools; the ones that message other agents are opt-in, by name or by flag
    assert [t.name for t in api.sdk.agents.tools.list(agent.id).items] == BASE_TOOL_NAMES
    wait = "send_message_to_agent_and_wait_for_reply"
    assert wait in [t.name for t in api.sdk.agents.create(name="Ann", tools=[wait]).tools]
    flagged = api.sdk.agents.create(name="Bob", extra_body={"include_multi_agent_tools": True})
    assert {t.name for t in flagged.tools} == {*BASE_TOOL_NAMES, *MULTI_AGENT_TOOL_NAMES}
    assert [m.handle for m in api.sdk.models.list()][0] == "openai/gpt-4o-mini"  # LLM_MODEL first (test_models.py)
    assert api.sdk.models.embeddings.list()[0].handle == "local/all-MiniLM-L6-v2"
    system = api.sdk.agents.recompile(agent.id)
    assert "<human>" in system and "Ada" in system
    with pytest.raises(APIStatusError) as error:
        api.sdk.tools.retrieve("tool-send_message")  # ids are "tool-<key>", like every other id
    assert error.value.status_code == 404


def test_tags_of_every_agent_in_order_with_cursors_and_a_filter(api, other):
    for name, tags in (("a", ["chess", "demo"]), ("b", ["demo", "zebra"]), ("c", [])):
        api.sdk.agents.create(name=name, tags=tags)
    other.sdk.agents.create(name="theirs", tags=["secret"])
    assert api.sdk.tags.list() == ["chess", "demo", "zebra"]
    assert api.sdk.tags.list(order="desc", limit=2) == ["zebra", "demo"]
    assert api.sdk.tags.list(after="chess") == ["demo", "zebra"]
    assert api.sdk.tags.list(order="desc", after="demo") == ["chess"]
    assert api.sdk.tags.list(before="zebra", limit=1) == ["chess"]
    assert api.sdk.tags.list(name="EM") == ["demo"]
    assert [a.name for a in api.sdk.agents.list(tags=["demo"], match_all_tags=True)] == ["b", "a"]
