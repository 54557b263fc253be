"""One way a core memory block changes (agents.services.block_edit), for people, tools and the API."""

import pytest

from agents.models import Agent
from agents.services import block_attach, block_edit
from agents.storage import DjangoStore
from memory.errors import BlockLabelTaken, BlockLimitExceeded, BlockReadOnly, BlockTextNotFound
from memory.models import Block, BlockRevision
from tests.factories import make_agent, make_block

pytestmark = pytest.mark.django_db


def test_an_agents_append_keeps_a_persons_edit_made_during_the_turn():
    agent = make_agent()
    block = make_block(agent=agent, label="human", value="Name: Ada")
    store = DjangoStore(agent)
    store.load()  # the turn begins
    block_edit(block_id=block.pk, fields={"value": "Name: Ada Lovelace"})  # a person, meanwhile
    view = store.edit_block("human", append="Likes chess", step_id=None)
    assert view.value == Block.objects.get(pk=block.pk).value == "Name: Ada Lovelace\nLikes chess"
    assert [r.actor for r in BlockRevision.objects.filter(block=block).order_by("id")] == ["user", "agent"]


def test_a_block_made_read_only_during_the_turn_refuses_the_agents_edit():
    agent = make_agent()
    block = make_block(agent=agent, label="human", value="Name: Ada")
    store = DjangoStore(agent)
    store.load()
    block_edit(block_id=block.pk, fields={"read_only": True})
    with pytest.raises(BlockReadOnly, match="read-only"):
        store.edit_block("human", replace=("Ada", "Bob"), step_id=None)
    assert Block.objects.get(pk=block.pk).value == "Name: Ada"


def test_replace_and_the_limit_are_checked_on_the_value_as_it_is():
    block = make_block(agent=make_agent(), label="human", value="Name: Ada", limit=20)
    with pytest.raises(BlockTextNotFound, match="was not found"):
        block_edit(block_id=block.pk, actor="agent", replace=("Bob", "Eve"))
    with pytest.raises(BlockTextNotFound, match="empty"):
        block_edit(block_id=block.pk, actor="agent", replace=("", "Eve"))
    with pytest.raises(BlockLimitExceeded) as refused:
        block_edit(block_id=block.pk, actor="agent", append="x" * 20)
    assert (refused.value.chars, refused.value.limit, refused.value.used) == (30, 20, 9)
    with pytest.raises(ValueError, match="exactly one"):
        block_edit(block_id=block.pk, append="a", replace=("b", "c"))
    assert not BlockRevision.objects.exists()


def test_a_rename_or_a_restore_never_gives_an_agent_two_blocks_with_one_label():
    sam, kit = make_agent(), make_agent()
    shared = make_block(agent=sam, label="notes", value="v1")
    block_attach(block=shared, agent=kit)
    make_block(agent=kit, label="todo")
    with pytest.raises(BlockLabelTaken, match="already has a block labelled 'todo'"):
        block_edit(block_id=shared.pk, fields={"label": "todo"})  # from Sam's page: Kit has a "todo"
    renamed = block_edit(block_id=shared.pk, fields={"label": "plans"})
    revision = BlockRevision.objects.get(block=shared)
    make_block(agent=sam, label="notes")  # the old label is taken again
    with pytest.raises(BlockLabelTaken):
        block_edit(block_id=shared.pk, revision=revision)
    assert Block.objects.get(pk=shared.pk).label == renamed.label == "plans"


def test_every_agent_with_the_block_hears_of_the_change_and_has_its_memory_marked_edited(published):
    sam, kit = make_agent(), make_agent()
    shared = make_block(agent=sam, label="team", value="")
    block_attach(block=shared, agent=kit)
    block_edit(block_id=shared.pk, actor="agent", append="Ship on Friday", step_id=None, run_id=None)
    changes = {agent_id: e for agent_id, e in published if e["type"] == "memory_change"}
    assert set(changes) == {sam.pk, kit.pk}
    assert (changes[kit.pk]["block_id"], changes[kit.pk]["value"], changes[kit.pk]["actor"]) == \
        (shared.pk, "Ship on Friday", "agent")
    assert all(a.memory_edited_at for a in Agent.objects.filter(pk__in=[sam.pk, kit.pk]))
    block_edit(block_id=shared.pk, fields={"value": "Ship on Friday"})  # no change: no revision, no event
    assert len([e for _, e in published if e["type"] == "memory_change"]) == 2


def test_the_database_itself_refuses_two_blocks_with_one_label_on_an_agent():
    from django.db import IntegrityError, transaction

    from memory.models import BlockAttachment
    from memory.services import block_write

    agent = make_agent()
    notes, todo = make_block(agent=agent, label="notes"), make_block(agent=agent, label="todo")
    with pytest.raises(IntegrityError), transaction.atomic():
        BlockAttachment.objects.filter(block=todo).update(label="notes")
    # a rename that skips the services' friendly check still meets the constraint
    with pytest.raises(BlockLabelTaken):
        block_write(block_id=todo.pk, actor="user", change=lambda block: {"label": "notes"})
    assert Block.objects.get(pk=todo.pk).label == "todo" and Block.objects.get(pk=notes.pk).label == "notes"
    block_edit(block_id=todo.pk, fields={"label": "plans"})
    assert list(BlockAttachment.objects.filter(agent=agent).order_by("id").values_list("label", flat=True)) == ["notes", "plans"]
