"""Writes to the memory tiers. Each function commits on its own."""

from django.db import transaction
from django.utils import timezone

from memory.embeddings import get_embedder
from memory.models import Block, BlockAttachment, BlockRevision, Message, Passage
from memory.search import ensure_index

EDITABLE_BLOCK_FIELDS = ("label", "description", "value", "limit", "read_only")


class BlockLimitExceeded(ValueError):
    pass


def block_create(*, owner, label: str, value: str = "", limit: int = 5000, description: str = "",
                 read_only: bool = False) -> Block:
    if len(value) > limit:
        raise BlockLimitExceeded(f"{label}: {len(value)} characters, over the limit of {limit}")
    return Block.objects.create(owner=owner, label=label, value=value, limit=limit, description=description,
                                read_only=read_only)


def block_attach(*, block: Block, agent) -> BlockAttachment:
    if Block.objects.filter(blockattachment__agent=agent, label=block.label).exclude(pk=block.pk).exists():
        raise ValueError(f"the agent already has a block labelled {block.label!r}")
    position = BlockAttachment.objects.filter(agent=agent).count()
    attachment, _ = BlockAttachment.objects.get_or_create(agent=agent, block=block, defaults={"position": position})
    return attachment


def block_update(*, block_id: int, actor: str, user=None, step_id: int | None = None, **changes) -> Block:
    """Change a block's fields, keep the revision, and refuse a value over the limit."""
    unknown = set(changes) - set(EDITABLE_BLOCK_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        block = Block.objects.select_for_update().get(pk=block_id)
        before = {name: getattr(block, name) for name in changes}
        for name, value in changes.items():
            setattr(block, name, value)
        if len(block.value) > block.limit:
            raise BlockLimitExceeded(f"{len(block.value)} characters, over the limit of {block.limit}")
        after = {name: getattr(block, name) for name in changes}
        if before == after:
            return block
        block.save(update_fields=[*changes, "updated_at"])
        BlockRevision.objects.create(block=block, actor=actor, user=user, step_id=step_id, before=before, after=after)
        block.agents.update(memory_edited_at=timezone.now())
    return block


def block_detach(*, block: Block, agent) -> None:
    """Take the block out of the agent's core memory; a block no agent uses any more is deleted."""
    BlockAttachment.objects.filter(agent=agent, block=block).delete()
    if not BlockAttachment.objects.filter(block=block).exists():
        block.delete()


def block_restore(*, revision: BlockRevision, user) -> Block:
    """Put back the fields as they were before `revision` (itself kept as a new revision)."""
    return block_update(block_id=revision.block_id, actor=BlockRevision.Actor.USER, user=user, **revision.before)


def passage_delete(*, passage: Passage) -> None:
    passage.delete()


def messages_append(*, agent_id: int, owner_id: int, messages: list[dict], run_id: int | None = None,
                    step_id: int | None = None) -> list[Message]:
    """Store messages in recall memory; they are embedded in the background."""
    rows = Message.objects.bulk_create(
        Message(agent_id=agent_id, owner_id=owner_id, run_id=run_id, step_id=step_id, **fields) for fields in messages
    )
    searchable = [m.pk for m in rows if m.kind in (Message.Kind.USER_MESSAGE, Message.Kind.ASSISTANT) and m.text]
    if searchable:
        from memory.tasks import embed_messages

        transaction.on_commit(lambda: embed_messages.delay(searchable))
    return rows


def messages_evict(*, agent_id: int, owner_id: int, message_ids: list[int], summary: dict) -> Message:
    """Take messages out of the context window (they stay in recall memory) and put the new summary in."""
    with transaction.atomic():
        Message.objects.filter(agent_id=agent_id, pk__in=message_ids).update(in_context=False)
        Message.objects.filter(agent_id=agent_id, kind=Message.Kind.SUMMARY, in_context=True).update(in_context=False)
        return Message.objects.create(agent_id=agent_id, owner_id=owner_id, **summary)


def messages_embed(*, message_ids: list[int]) -> int:
    rows = list(Message.objects.filter(pk__in=message_ids, embedding__isnull=True).select_related("agent"))
    by_model: dict[str, list[Message]] = {}
    for message in rows:
        by_model.setdefault(message.agent.embedding_model, []).append(message)
    for model, messages in by_model.items():
        embedder = get_embedder(model)
        ensure_index(model, embedder.dimensions)
        for message, vector in zip(messages, embedder.embed([m.text for m in messages])):
            message.embedding, message.embedding_model = vector, model
        Message.objects.bulk_update(messages, ["embedding", "embedding_model"])
    return len(rows)


def passage_insert(*, owner_id: int, agent_id: int, text: str, embedding_model: str, tags: list[str] | None = None) -> Passage:
    """An agent's own archival memory; embedded at once, so the next search finds it."""
    embedder = get_embedder(embedding_model)
    ensure_index(embedding_model, embedder.dimensions)
    [vector] = embedder.embed([text])
    return Passage.objects.create(owner_id=owner_id, agent_id=agent_id, text=text, embedding=vector,
                                  embedding_model=embedding_model, tags=tags or [])


# --- used by the REST API ------------------------------------------------------------------------


class BlockLabelTaken(ValueError):
    """An agent would have two core memory blocks with one label."""


def _label_free(block: Block, label: str, agents) -> None:
    for agent in agents:
        if Block.objects.filter(blockattachment__agent=agent, label=label).exclude(pk=block.pk).exists():
            raise BlockLabelTaken(f"the agent {agent.name!r} already has a block labelled {label!r}")


def block_link(*, block: Block, agent) -> BlockAttachment:
    """Attach a block to an agent; BlockLabelTaken when the agent has another block with its label."""
    _label_free(block, block.label, [agent])
    attachment = block_attach(block=block, agent=agent)
    block.agents.filter(pk=agent.pk).update(memory_edited_at=timezone.now())
    return attachment


def block_unlink(*, block: Block, agent) -> int:
    """Detach a block from an agent; the block itself stays (other agents may share it)."""
    deleted, _ = BlockAttachment.objects.filter(block=block, agent=agent).delete()
    if deleted:
        type(agent).objects.filter(pk=agent.pk).update(memory_edited_at=timezone.now())
    return deleted


def block_label_check(*, block: Block, label: str) -> None:
    """BlockLabelTaken if renaming the block to `label` would give one of its agents two blocks with it."""
    if label != block.label:
        _label_free(block, label, block.agents.all())


def block_delete(*, block: Block) -> None:
    with transaction.atomic():
        block.agents.update(memory_edited_at=timezone.now())
        block.delete()


def passages_insert_many(*, owner_id: int, agent_id: int, passages: list[dict], embedding_model: str) -> list[Passage]:
    """Many passages of an agent's archival memory ({"text", "tags", "created_at"}), embedded in batches.
    Call it outside a transaction: the embedder may be a remote server."""
    embedder = get_embedder(embedding_model)
    ensure_index(embedding_model, embedder.dimensions)
    vectors = embedder.embed([p["text"] for p in passages])
    rows = Passage.objects.bulk_create(
        Passage(owner_id=owner_id, agent_id=agent_id, text=p["text"], tags=p.get("tags") or [], embedding=vector,
                embedding_model=embedding_model) for p, vector in zip(passages, vectors))
    dated = [row for row, p in zip(rows, passages) if p.get("created_at")]
    for row, p in zip(rows, passages):
        if p.get("created_at"):
            row.created_at = p["created_at"]  # auto_now_add set it to now on insert
    Passage.objects.bulk_update(dated, ["created_at"])
    return rows
