"""Writes about agents and their turns."""

import logging

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from agents import events
from agents.engine import prompts
from agents.engine.loop import Event, Turn, TurnSettings
from agents.llm import (
    NOT_CONFIGURED,
    LLMNotConfigured,
    get_llm,
    llm_configured,
    model_name,
    model_window,
)
from agents.models import Agent, Run
from agents.storage import DjangoStore
from memory.models import Block, BlockAttachment, Message
from memory.services import (
    block_attach,
    block_create,
    block_label_check,
    block_update,
    messages_append,
    passages_insert_many,
    source_attach,
)
from memory.tokens import tokenizer_for_model

logger = logging.getLogger(__name__)

TURN_LOCK_CLASS = 0x4D47  # "MG": the first key of the advisory locks that serialize an agent's turns
HUMAN_DESCRIPTION = "What I know about the human I talk to: facts, preferences, how to treat them."
PERSONA_DESCRIPTION = "Who I am: my persona, how I speak and behave."


def agent_create(*, owner, name: str, persona: str = "", human: str = "", model: str = "", system: str | None = None,
                 context_window: int | None = None, temperature: float = 0.7, embedding_model: str | None = None,
                 description: str = "", tags: list[str] | None = None, blocks: list[dict] | None = None,
                 block_ids: list[int] | None = None) -> Agent:
    """An agent with its core memory: persona and human blocks, or the `blocks` given (label, value, ...)."""
    context_window = context_window or settings.AGENT_CONTEXT_WINDOW
    limit = model_window(model)
    if limit is not None and context_window > limit:
        raise ValueError(f"the context window of {context_window} tokens is larger than {model_name(model)}'s own ({limit})")
    if blocks is None:
        blocks = [{"label": "persona", "value": persona, "description": PERSONA_DESCRIPTION},
                  {"label": "human", "value": human, "description": HUMAN_DESCRIPTION}]
    with transaction.atomic():
        agent = Agent.objects.create(
            owner=owner, name=name, description=description, tags=tags or [], model=model,
            system=system if system is not None else prompts.BASE_INSTRUCTIONS.format(name=name),
            context_window=context_window, temperature=temperature,
            embedding_model=embedding_model or settings.EMBEDDING_MODEL, max_steps=settings.AGENT_MAX_STEPS,
        )
        for fields in blocks:
            block_attach(block=block_create(owner=owner, **fields), agent=agent, mark_edited=False)
        for block in Block.objects.filter(owner=owner, pk__in=block_ids or []):
            block_attach(block=block, agent=agent, mark_edited=False)
    return agent


def turn_enqueue(*, agent: Agent, trigger: str = Run.Trigger.USER_MESSAGE, text: str = "") -> Run:
    """Queue a turn; turns of one agent run one at a time, in the order they were queued."""
    if not llm_configured(agent.model):
        raise LLMNotConfigured(NOT_CONFIGURED)
    if trigger == Run.Trigger.USER_MESSAGE and not text.strip():
        raise ValueError("the message is empty")
    run = Run.objects.create(agent=agent, trigger=trigger, input=text)
    from agents.tasks import process_runs

    transaction.on_commit(lambda: process_runs.delay(agent.pk))
    return run


# The lock belongs to the database session: the runner keeps its connection from taking the lock
# to letting go (none is given back to the pool in between, not even during LLM calls).
def _try_lock(agent_id: int) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [TURN_LOCK_CLASS, agent_id])
        return cursor.fetchone()[0]


def _unlock(agent_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [TURN_LOCK_CLASS, agent_id])


def agent_runs_process(*, agent_id: int) -> int:
    """Run the agent's queued turns in order; returns how many ran.

    A session-level advisory lock makes one worker the agent's runner; another task for the same
    agent leaves at once, and its run is taken by the runner's loop. After letting go, the
    runner looks once more, so a run queued just as it finished is not stranded.
    """
    done = 0
    while _try_lock(agent_id):
        try:
            _fail_interrupted_runs(agent_id)
            # queued runs through the (agent, status, id) index: the oldest first, however many ran before
            while run := (Run.objects.select_related("agent").filter(agent_id=agent_id, status=Run.Status.QUEUED)
                          .order_by("id").first()):
                run_execute(run=run)
                done += 1
        finally:
            _unlock(agent_id)
        if not Run.objects.filter(agent_id=agent_id, status=Run.Status.QUEUED).exists():
            break
    return done


def _fail_interrupted_runs(agent_id: int) -> None:
    """Runs left "running" by a worker that died: we hold the lock, so nobody is running them."""
    for run in Run.objects.filter(agent_id=agent_id, status=Run.Status.RUNNING):
        _finish(run, Run.Status.FAILED, Run.StopReason.ERROR, "The worker stopped in the middle of this turn; "
                "what it had done before is kept.")


def _finish(run: Run, status: str, stop_reason: str, error: str = "", *, error_announced: bool = False,
            steps: int = 0) -> None:
    """Record how the run ended, then say so: "stop" goes out only once the row says it, so whoever
    waits for it (the API, the chat command) reads the finished run."""
    run.status, run.stop_reason, run.error, run.finished_at = status, stop_reason, error, timezone.now()
    run.save(update_fields=["status", "stop_reason", "error", "finished_at"])
    if error and not error_announced:
        events.publish(run.agent_id, {"type": "error", "run_id": run.pk, "message": error})
    events.publish(run.agent_id, {"type": "stop", "run_id": run.pk, "status": status, "stop_reason": stop_reason,
                                  "steps": steps})


EVENT_KINDS = {Run.Trigger.USER_MESSAGE: "user_message", Run.Trigger.LOGIN: "login",
               Run.Trigger.HEARTBEAT: "heartbeat", Run.Trigger.MEMORY_WARNING: "memory_warning"}


def run_execute(*, run: Run) -> Run:
    agent = run.agent
    last_active = agent.last_active_at
    run.started_at = timezone.now()
    # only a run still queued starts: one cancelled a moment ago stays cancelled
    if not Run.objects.filter(pk=run.pk, status=Run.Status.QUEUED).update(status=Run.Status.RUNNING, started_at=run.started_at):
        run.refresh_from_db()
        return run
    run.status = Run.Status.RUNNING
    events.publish(agent.pk, {"type": "run_started", "run_id": run.pk, "trigger": run.trigger})
    try:
        if not llm_configured(agent.model):
            raise LLMNotConfigured(NOT_CONFIGURED)
        store = DjangoStore(agent, run_id=run.pk)
        tokenizer, approximate = tokenizer_for_model(agent.model or settings.LLM_MODEL)
        def publish(event: dict) -> None:
            if event["type"] != "stop":  # _finish announces the end, once the run row is finished
                events.publish(agent.pk, {**event, "run_id": run.pk})

        turn = Turn(store=store, llm=get_llm(), publish=publish,
                    tokenizer=tokenizer, approximate=approximate,
                    settings=TurnSettings(page_size=settings.SEARCH_PAGE_SIZE, max_retries=settings.LLM_MAX_RETRIES))
        try:
            result = turn.run(Event(EVENT_KINDS[run.trigger], run.input, last_login=last_active))
        finally:
            store.embed_later()
    except LLMNotConfigured as error:
        _finish(run, Run.Status.FAILED, Run.StopReason.ERROR, str(error))
        return run
    except Exception as error:  # a bug or a lost database: report it on the run and keep the agent usable
        logger.exception("turn %s of agent %s failed", run.pk, agent.pk)
        _finish(run, Run.Status.FAILED, Run.StopReason.ERROR, f"Internal error: {type(error).__name__}: {error}")
        return run
    status = Run.Status.COMPLETED if result.status == "completed" else Run.Status.FAILED
    Agent.objects.filter(pk=agent.pk).update(last_active_at=timezone.now())
    _finish(run, status, result.stop_reason, result.error, error_announced=True, steps=result.steps)
    return run


def block_edit(*, block_id: int, user, **changes) -> Block:
    """A person's edit of a core memory block; everyone watching the agent sees it at once."""
    block = block_update(block_id=block_id, actor="user", user=user, **changes)
    for watched in block.agents.all():
        events.publish(watched.pk, {"type": "memory_change", "label": block.label, "value": block.value,
                                    "chars": len(block.value), "limit": block.limit, "actor": "user"})
    return block


def agent_duplicate(*, agent: Agent) -> Agent:
    """A new agent with the same settings and copies of its core memory blocks; no conversation."""
    blocks = [{"label": b.label, "value": b.value, "limit": b.limit, "description": b.description, "read_only": b.read_only}
              for b in Block.objects.filter(blockattachment__agent=agent).order_by("blockattachment__position")]
    copy = agent_create(owner=agent.owner, name=f"{agent.name} (copy)", model=agent.model, system=agent.system,
                        context_window=agent.context_window, temperature=agent.temperature,
                        embedding_model=agent.embedding_model, description=agent.description, tags=agent.tags,
                        blocks=blocks)
    Agent.objects.filter(pk=copy.pk).update(warning_share=agent.warning_share, evict_share=agent.evict_share,
                                            completion_reserve=agent.completion_reserve, max_steps=agent.max_steps)
    return copy


def messages_reset(*, agent: Agent) -> int:
    """Empty the context window (memory and recall memory are kept); returns how many left it."""
    return Message.objects.filter(agent=agent, in_context=True).update(in_context=False)


def exchange_undo(*, agent: Agent) -> int:
    """Remove the last exchange: the newest user message and everything after it (the original /pop)."""
    last_user = (Message.objects.filter(agent=agent, kind=Message.Kind.USER_MESSAGE).order_by("-id").first())
    if last_user is None:
        return 0
    deleted, _ = Message.objects.filter(agent=agent, pk__gte=last_user.pk).delete()
    return deleted


def agent_delete(*, agent: Agent) -> None:
    blocks = list(Block.objects.filter(blockattachment__agent=agent))
    agent.delete()
    # blocks no other agent uses go with it
    Block.objects.filter(pk__in=[b.pk for b in blocks]).exclude(pk__in=BlockAttachment.objects.values("block")).delete()


# --- used by the REST API ------------------------------------------------------------------------


AGENT_EDITABLE = ("name", "description", "system", "tags", "model", "embedding_model", "context_window", "temperature")


def agent_create_with_folders(*, owner, folders: list, **fields) -> Agent:
    """agent_create, with folders (Sources) attached from the start."""
    with transaction.atomic():
        agent = agent_create(owner=owner, **fields)
        for folder in folders:
            source_attach(source=folder, agent=agent)
    return agent


def agent_update(*, agent: Agent, block_ids: list[int] | None = None, **changes) -> Agent:
    """Change an agent's settings; `block_ids` (the owner's blocks) replaces its core memory blocks."""
    unknown = set(changes) - set(AGENT_EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        for name, value in changes.items():
            setattr(agent, name, value)
        if changes:
            agent.save(update_fields=[*changes, "updated_at"])
        if block_ids is not None:
            wanted = Block.objects.filter(owner=agent.owner, pk__in=block_ids).in_bulk()
            missing = [pk for pk in block_ids if pk not in wanted]
            if missing:
                raise Block.DoesNotExist(f"no block {missing[0]}")
            BlockAttachment.objects.filter(agent=agent).exclude(block_id__in=block_ids).delete()
            for pk in dict.fromkeys(block_ids):
                block_attach(block=wanted[pk], agent=agent)
    return agent


def block_change(*, block: Block, user, **changes) -> Block:
    """block_edit for a block named without its agent (the API's /v1/blocks/{id}): a new label must
    stay unique on every agent the block is attached to."""
    if "label" in changes:
        block_label_check(block=block, label=changes["label"])
    return block_edit(block_id=block.pk, user=user, **changes)


def runs_cancel(*, agent: Agent, run_ids: list[int] | None = None) -> dict[int, str]:
    """Cancel the agent's queued turns (all, or those named): run id -> "cancelled", or "running"
    for a turn already under way, which the engine cannot stop between steps."""
    runs = Run.objects.filter(agent=agent, status__in=[Run.Status.QUEUED, Run.Status.RUNNING]).order_by("id")
    if run_ids is not None:
        runs = runs.filter(pk__in=run_ids)
    outcome = {}
    for run in runs:
        # conditional, so a worker that has just taken the run keeps it
        cancelled = Run.objects.filter(pk=run.pk, status=Run.Status.QUEUED).update(
            status=Run.Status.CANCELLED, stop_reason=Run.StopReason.CANCELLED, finished_at=timezone.now())
        if cancelled:
            events.publish(agent.pk, {"type": "stop", "run_id": run.pk, "status": Run.Status.CANCELLED,
                                      "stop_reason": Run.StopReason.CANCELLED})
        outcome[run.pk] = Run.Status.CANCELLED if cancelled else Run.Status.RUNNING
    return outcome


def agent_file_import(*, owner, agents: list[dict], blocks: list[dict], passages: list[dict] | None = None) -> list[Agent]:
    """Agents from an agent file, already validated and normalized (see playground.api.agent_file):
    `blocks` [{"id", "label", "value", ...}] are created once, so blocks shared in the file stay shared;
    each agent {"id", "block_ids", "messages": [{Message fields, "created_at", "in_context"}], settings...};
    `passages` [{"agent_id", "text", "tags", "created_at"}] go into the archival memory of their agent.
    Message times are kept. Passages are embedded after the rest is committed; if that fails the new
    agents are removed again."""
    passages = passages or []
    created: list[Agent] = []
    with transaction.atomic():
        rows = {spec["id"]: block_create(owner=owner, **{k: v for k, v in spec.items() if k != "id"}) for spec in blocks}
        file_ids: dict[int, str] = {}
        for spec in agents:
            settings_ = {k: v for k, v in spec.items() if k not in ("id", "block_ids", "messages")}
            agent = Agent.objects.create(owner=owner, **settings_)
            file_ids[agent.pk] = spec["id"]
            for block_id in spec["block_ids"]:
                block_attach(block=rows[block_id], agent=agent, mark_edited=False)  # the file says when memory was edited
            messages = spec["messages"]
            stored = messages_append(agent_id=agent.pk, owner_id=owner.pk,
                                     messages=[{k: v for k, v in m.items() if k != "created_at"} for m in messages])
            for row, message in zip(stored, messages):
                row.created_at = message["created_at"]  # auto_now_add set it to now on insert
            Message.objects.bulk_update(stored, ["created_at"])
            created.append(agent)
    try:
        for agent in created:
            mine = [p for p in passages if p["agent_id"] == file_ids[agent.pk]]
            if mine:
                passages_insert_many(owner_id=owner.pk, agent_id=agent.pk, passages=mine,
                                     embedding_model=agent.embedding_model)
    except Exception:
        for agent in created:
            agent_delete(agent=agent)
        raise
    return created
