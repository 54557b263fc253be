"""A fork: a new agent exactly as another was just before one of its steps, whose next request is
that step's request, byte for byte (tests/agents/test_fork.py)."""

from django.db import connection, transaction

from agents.engine import snapshot
from agents.errors import HistoryMissing
from agents.history.differences import request_differences
from agents.engine.loop import request_body
from agents.engine.tools import tools_of
from agents.models import Agent, Step
from agents.selectors import tools_usable_by
from agents.storage import DjangoStore
from memory import milvus
from memory.models import Block, BlockAttachment, Message, Passage
from memory.tokens import tokenizer_for_model


def step_state(step: Step) -> dict:
    if not step.state or "agent" not in step.state:
        raise HistoryMissing(f"Step {step.pk} was recorded before steps kept the agent's state, so it cannot be "
                             "forked, rewound to or pinned; its request can still be replayed.")
    return step.state


def fork_name(agent: Agent, step: Step) -> str:
    where = f" (fork before step {step.index} of run {step.run_id})"
    return agent.name[: 200 - len(where)] + where


def agent_fork(*, step: Step, name: str = "") -> Agent:
    """A new agent of the same owner whose memory blocks (copies), in-context messages, summary, recall
    memory, archival passages (its own, copied with their vectors; its sources', attached), settings
    and tools are as they were just before `step`. Its first turn can be the step made again (a
    `continue` run); what it does from there touches nothing of the original's."""
    state = step_state(step)
    source = step.agent
    settings = state["agent"]
    with transaction.atomic():
        fork = Agent.objects.create(
            owner=source.owner, name=name or fork_name(source, step), description=source.description,
            tags=source.tags, system=state["system"], model=settings["model"], context_window=state["context_window"],
            temperature=state["temperature"], embedding_model=settings["embedding_model"],
            warning_share=state["warning_share"], evict_share=state["evict_share"],
            completion_reserve=state["completion_reserve"], max_steps=state["max_steps"],
            memory_warning_sent=state["memory_warning_sent"], memory_edited_at=snapshot.edited_at(state),
            tool_rules=state["tool_rules"], heartbeat_fallback=state["heartbeat_fallback"],
            tool_protocol=settings["tool_protocol"], forked_from=step, pending_turn=pending_turn(step))
        fork.tools.set(tools_usable_by(source.owner).filter(pk__in=settings["tool_ids"]))
        fork.sources.set(source.owner.sources.filter(pk__in=settings["source_ids"]))
        blocks_restore(fork, state)
        messages_copy(source_id=source.pk, target_id=fork.pk, last_id=state["last_message_id"],
                      window=snapshot.window_ids(state))
        copied = passages_copy(source_id=source.pk, target_id=fork.pk, last_id=state["last_passage_id"])
        transaction.on_commit(lambda: milvus.passages_upsert_later(ids=copied))
    # what could not be restored (a tool edited since, a document added to a source...), for its page
    fork.pending_turn["differences"] = fork_differences(fork=fork, step=step)
    Agent.objects.filter(pk=fork.pk).update(pending_turn=fork.pending_turn)
    return fork


def pending_turn(step: Step) -> dict:
    """The turn the step was part of, as a `continue` run takes it up again."""
    turn = step.state["turn"]
    return {"step_id": step.pk, "run_id": step.run_id, "index": step.index, "steps": turn["steps"],
            "called": turn["called"]}


def blocks_restore(agent: Agent, state: dict) -> None:
    """New blocks of the agent's own, as the state has them (a fork must not write to the original's)."""
    for position, view in enumerate(snapshot.blocks_of(state)):
        block = Block.objects.create(owner=agent.owner, label=view.label, value=view.value, limit=view.limit,
                                     description=view.description, read_only=view.read_only)
        BlockAttachment.objects.create(agent=agent, block=block, label=view.label, position=position)


def _copy_columns(model, replaced: dict[str, str]) -> tuple[str, str]:
    """The column list of an INSERT ... SELECT copying `model`'s rows, with some columns' values replaced
    by SQL expressions (the generated and key columns left out)."""
    columns = [f.column for f in model._meta.concrete_fields if not f.primary_key and not getattr(f, "generated", False)]
    return ", ".join(columns), ", ".join(replaced.get(c, c) for c in columns)


def messages_copy(*, source_id: int, target_id: int, last_id: int | None, window: list[int]) -> int:
    """The source agent's recall memory up to `last_id` becomes the target's, in order and with its
    times and vectors; the `window` ids are in its context. The runs and steps stay the source's."""
    if last_id is None:
        return 0
    columns, values = _copy_columns(Message, {"agent_id": "%s", "run_id": "NULL", "step_id": "NULL",
                                              "in_context": "(id = ANY(%s))"})
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO memory_message ({columns}) SELECT {values} FROM memory_message "
                       "WHERE agent_id = %s AND id <= %s ORDER BY id", [target_id, window, source_id, last_id])
        return cursor.rowcount


def passages_copy(*, source_id: int, target_id: int, last_id: int | None) -> list[int]:
    """The source agent's own passages up to `last_id`, copied with their times and vectors; the new ids."""
    if last_id is None:
        return []
    columns, values = _copy_columns(Passage, {"agent_id": "%s", "step_id": "NULL"})
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO memory_passage ({columns}) SELECT {values} FROM memory_passage "
                       "WHERE agent_id = %s AND id <= %s ORDER BY id RETURNING id", [target_id, source_id, last_id])
        return [row[0] for row in cursor.fetchall()]


def next_request(agent: Agent) -> dict:
    """The request the agent's next step sends, if memory pressure changes nothing first."""
    from agents.engine.context import compile_context

    state = DjangoStore(agent).load()
    tokenizer, approximate = tokenizer_for_model(state.model)
    context = compile_context(state, tools=[t.schema for t in tools_of(state)], tokenizer=tokenizer,
                              approximate=approximate)
    return request_body(state, context)


def fork_differences(*, fork: Agent, step: Step) -> list[str]:
    """How the fork's next request would differ from the step's (a tool edited since, a document added to
    a source, a message deleted...): [] for an exact fork."""
    return request_differences(step.request, next_request(fork), limit=5)
