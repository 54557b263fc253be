"""Writes about agents and their turns."""

import json
import logging
import re
from dataclasses import asdict
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from agents import events, groups, messaging
from agents.engine import events as event
from agents.engine import prompts
from agents.engine.loop import Event, Turn, TurnFailure, TurnResult, TurnSettings, eviction_point
from agents.engine.types import Suspension, ToolRun
from agents.engine.rules import KINDS as RULE_KINDS
from agents.engine.rules import tools_named
from agents.engine.tools import BASE_TOOL_NAMES, MULTI_AGENT_TOOL_NAMES, TOOL_SCHEMAS, argument_of
from agents.errors import IdempotencyKeyReused, MessageTooLong, ModelServerInvalid, NothingPending
from agents.llm import (
    DEFAULT_SERVER,
    NOT_CONFIGURED,
    LLMNotConfigured,
    get_llm_for,
    llm_configured,
    model_name,
    model_window,
)
from agents.llm.json_tools import with_tool_protocol
from agents.llm.tokenize import agent_tokenizer
from agents.llm.keys import key_encrypt
from agents.models import RUN_UNFINISHED, Agent, ModelServer, Run, Tool
from agents.selectors import tools_usable_by
from agents.storage import DjangoStore, block_view, message_view, tool_spec
from agents.tools.calls import SandboxRunner
from agents.tools.schema import tool_parse, tool_schema
from memory import milvus
from memory.errors import BlockLabelTaken, BlockReadOnly, BlockTextNotFound
from memory.models import Block, BlockAttachment, BlockRevision, Message
from memory.services import block_create, block_write, messages_embed_later, source_attach
from memory.tokens import tokenizer_for_model

logger = logging.getLogger(__name__)

TURN_LOCK_CLASS = 0x4D47  # "MG": the first key of the advisory locks that serialize an agent's turns
HUMAN_DESCRIPTION = "What I know about the human I talk to: facts, preferences, how to treat them."
PERSONA_DESCRIPTION = "Who I am: my persona, how I speak and behave."


def agent_create(*, owner, name: str, persona: str = "", human: str = "", model: str = "", system: str | None = None,
                 context_window: int | None = None, temperature: float = 0.7, embedding_model: str | None = None,
                 description: str = "", tags: list[str] | None = None, blocks: list[dict] | None = None,
                 block_ids: list[int] | None = None, tool_ids: list[int] | None = None,
                 include_base_tools: bool = True, include_multi_agent_tools: bool = False,
                 tool_rules: list[dict] | None = None) -> Agent:
    """An agent with its core memory (persona and human blocks, or the `blocks` given: label, value,
    ...) and its tool set: the base tools (memory, search, send_message) unless `include_base_tools`
    is False, the tools that message other agents with `include_multi_agent_tools`, and the tools of
    `tool_ids` (the owner's, or built-in), under `tool_rules` (Letta's)."""
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
        tools = tools_usable_by(owner).filter(pk__in=tool_ids or [])
        builtin = (BASE_TOOL_NAMES if include_base_tools else []) + (MULTI_AGENT_TOOL_NAMES if include_multi_agent_tools else [])
        agent.tools.add(*tools, *Tool.objects.filter(kind=Tool.Kind.BUILTIN, name__in=builtin))
        if tool_rules:
            tool_rules_check(tool_rules, names=set(agent.tools.values_list("name", flat=True)))
            Agent.objects.filter(pk=agent.pk).update(tool_rules=tool_rules)
            agent.tool_rules = tool_rules
    return agent


def turn_enqueue(*, agent: Agent, trigger: str = Run.Trigger.USER_MESSAGE, text: str = "",
                 idempotency_key: str | None = None, parent_run: Run | None = None, parent_step_id: int | None = None,
                 tool_call_id: str = "", awaited: bool = False, group_turn_id: int | None = None) -> Run:
    """Queue a turn; turns of one agent run one at a time, in the order they were queued. A turn
    started by another agent's message names the run and step that sent it (agents/messaging.py).

    A message is refused (MessageTooLong) over MESSAGE_MAX_CHARS characters, or over half the tokens
    the agent's window leaves after its completion reserve, counted as the model is sent it. Memory
    pressure can evict every message but the newest, never the newest itself: a larger one would
    fail every turn from then on. The other half is for the system prompt, tools, core memory, the
    summary and the turn's own steps.

    With an `idempotency_key` (a client retrying one request), the agent's run queued with that key
    is returned instead of a second turn; the key sent with another message raises IdempotencyKeyReused."""
    from agents.tasks import process_runs

    def queued_before(run: Run) -> Run:
        if run.trigger != trigger or run.input != text:
            raise IdempotencyKeyReused(f"The Idempotency-Key {idempotency_key!r} was sent with another message "
                                       f"before (it queued run {run.pk}); use a new key for a new message.")
        return run

    if not llm_configured(agent.model):
        raise LLMNotConfigured(NOT_CONFIGURED)
    if trigger in (Run.Trigger.USER_MESSAGE, Run.Trigger.AGENT_MESSAGE) and not text.strip():
        raise ValueError("the message is empty")
    if idempotency_key is not None and (run := Run.objects.filter(agent=agent, idempotency_key=idempotency_key).first()):
        return queued_before(run)
    if len(text) > settings.MESSAGE_MAX_CHARS:
        raise MessageTooLong(f"The message has {len(text)} characters; the limit is {settings.MESSAGE_MAX_CHARS} "
                             "(MESSAGE_MAX_CHARS).")
    if text:
        tokenizer, _ = tokenizer_for_model(agent.model or settings.LLM_MODEL)
        tokens = tokenizer.count(prompts.user_message(text, timezone.now()))
        share = max(agent.context_window - agent.completion_reserve, 0) // 2
        if tokens > share:
            raise MessageTooLong(f"The message has {tokens} tokens; {agent.name}'s context window of "
                                 f"{agent.context_window} tokens takes {share} at most in one message (half of what "
                                 f"its completion reserve of {agent.completion_reserve} leaves).")
    try:
        with transaction.atomic():
            run = Run.objects.create(agent=agent, trigger=trigger, input=text, idempotency_key=idempotency_key,
                                     parent_run=parent_run, parent_step_id=parent_step_id, tool_call_id=tool_call_id,
                                     awaited=awaited, group_turn_id=group_turn_id)
    except IntegrityError:  # the same key at the same moment: the other request queued the turn
        if idempotency_key is None:
            raise
        return queued_before(Run.objects.get(agent=agent, idempotency_key=idempotency_key))

    transaction.on_commit(lambda: process_runs.delay(agent.pk), robust=True)  # Redis down: logged; runs_sweep requeues
    return run


def turn_continue(*, agent: Agent, idempotency_key: str | None = None) -> Run:
    """Queue the pending step of a forked or rewound agent (Agent.pending_turn): made again as it was
    about to be, with no new event. Raises NothingPending when the agent has none."""
    if agent.pending_turn is None:
        raise NothingPending(f"{agent.name} has no pending step: it was not forked or rewound to before a step, or "
                             "a turn has run since.")
    return turn_enqueue(agent=agent, trigger=Run.Trigger.CONTINUE, idempotency_key=idempotency_key)


def turn_withdraw(*, run: Run, reason: str) -> bool:
    """Take back a queued turn that its sender cannot wait for (Redis went away as it was sent): it
    ends cancelled with the reason, and frees its Idempotency-Key for the request sent again. False
    if a worker has taken it already."""
    return bool(Run.objects.filter(pk=run.pk, status=Run.Status.QUEUED).update(
        status=Run.Status.CANCELLED, stop_reason=Run.StopReason.CANCELLED, error=reason, idempotency_key=None,
        finished_at=timezone.now()))


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
    """Run the agent's turns in order; returns how many ran (or went on after a wait).

    A session-level advisory lock makes one worker the agent's runner; another task for the same
    agent leaves at once, and its run is taken by the runner's loop. After letting go, the
    runner looks once more, so a run queued (or a reply come) just as it finished is not stranded.
    """
    done = 0
    while _try_lock(agent_id):
        try:
            _fail_interrupted_runs(agent_id)
            while work := _next_run(agent_id):
                run, waited = work
                if waited:
                    run_resume(run=run)
                else:
                    run_execute(run=run)
                done += 1
        finally:
            _unlock(agent_id)
        if _next_run(agent_id) is None:
            break
    return done


def _next_run(agent_id: int) -> tuple[Run, bool] | None:
    """The agent's next turn to take: (its waiting run, True) once its wait is over, else (the oldest queued
    run, False); None while a run waits, or when nothing is queued. Queued turns wait for a waiting one."""
    runs = Run.objects.select_related("agent").filter(agent_id=agent_id)
    # both through the (agent, status, id) index, however many ran before
    if waiting := runs.filter(status=Run.Status.WAITING).order_by("id").first():
        return (waiting, True) if messaging.wait_over(waiting) else None
    queued = runs.filter(status=Run.Status.QUEUED).order_by("id").first()
    return (queued, False) if queued else None


INTERRUPTED = ("This turn was interrupted: its worker stopped, or lost the database, in the middle of it. What it "
               "had done before is kept.")


def _fail_interrupted_runs(agent_id: int) -> None:
    """Runs left "running" by a worker that died: we hold the lock, so nobody is running them."""
    for run in Run.objects.filter(agent_id=agent_id, status=Run.Status.RUNNING):
        _finish(run, Run.Status.FAILED, Run.StopReason.ERROR, INTERRUPTED)


def _finish(run: Run, status: str, stop_reason: str, error: str = "", *, steps: int = 0) -> None:
    """Record how the run ended, then say so."""
    run.status, run.stop_reason, run.error, run.finished_at = status, stop_reason, error, timezone.now()
    run.save(update_fields=["status", "stop_reason", "error", "finished_at"])
    _ended(run)
    _announce_end(run, steps=steps)


def _ended(run: Run) -> None:
    """What follows the end of a run: the run waiting for it goes on, its group's next agent speaks, its
    sleep-time agents may run."""
    messaging.run_ended(run)
    groups.run_ended(run)


def _announce_end(run: Run, *, steps: int = 0) -> None:
    """The one place a run's "error" and "stop" are published, once its row is finished: whoever
    waits for the stop (the API, the chat command) then reads the finished run."""
    if run.error:
        events.publish(run.agent_id, event.error(run_id=run.pk, message=run.error))
    events.publish(run.agent_id, event.stop(run_id=run.pk, status=run.status, stop_reason=run.stop_reason, steps=steps))


EVENT_KINDS = {Run.Trigger.USER_MESSAGE: "user_message", Run.Trigger.LOGIN: "login",
               Run.Trigger.HEARTBEAT: "heartbeat", Run.Trigger.MEMORY_WARNING: "memory_warning",
               Run.Trigger.AGENT_MESSAGE: "agent_message", Run.Trigger.GROUP_MESSAGE: "group_message",
               Run.Trigger.SLEEPTIME: "sleeptime"}


def _claim(run: Run, status: str) -> bool:
    """Take the run from `status` to running; False (the run as it is now) if it is no longer in it:
    one cancelled a moment ago stays cancelled."""
    run.started_at = run.started_at or timezone.now()
    if not Run.objects.filter(pk=run.pk, status=status).update(status=Run.Status.RUNNING, started_at=run.started_at):
        run.refresh_from_db()
        return False
    run.status = Run.Status.RUNNING
    return True


def run_execute(*, run: Run) -> Run:
    last_active = run.agent.last_active_at
    if not _claim(run, Run.Status.QUEUED):
        return run
    events.publish(run.agent_id, event.run_started(run_id=run.pk, trigger=run.trigger))
    if run.trigger == Run.Trigger.SYSTEM and run.input == SUMMARIZE:  # agent_summarize_enqueue
        return _play(run, _summarize)
    pending = run.agent.pending_turn
    if pending is not None:  # whatever this turn is, the fork's or the rewind's pending step is taken up or left
        Agent.objects.filter(pk=run.agent_id).update(pending_turn=None)
    if run.trigger == Run.Trigger.CONTINUE:
        return _play(run, lambda turn: turn.run(Event("continue", turn=pending)))
    sender = (messaging.sender_of(run) if run.trigger in (Run.Trigger.AGENT_MESSAGE, Run.Trigger.SLEEPTIME)
              else groups.group_event_sender(run) if run.trigger == Run.Trigger.GROUP_MESSAGE else None)
    return _play(run, lambda turn: turn.run(Event(EVENT_KINDS[run.trigger], run.input, last_login=last_active,
                                                  sender=sender)))


def run_resume(*, run: Run) -> Run:
    """Go on with a turn whose wait for other agents is over."""
    if not _claim(run, Run.Status.WAITING):
        return run
    suspension = Suspension(**run.suspension)
    results = messaging.replies(run, suspension)
    events.publish(run.agent_id, event.run_started(run_id=run.pk, trigger=run.trigger, resumed=True))
    return _play(run, lambda turn: turn.resume(suspension, results))


def _play(run: Run, play) -> Run:
    """Run (or resume) a claimed turn, and record how it ended, or that it waits."""
    agent = run.agent
    try:
        if not llm_configured(agent.model):
            raise LLMNotConfigured(NOT_CONFIGURED)
        store = DjangoStore(agent, run_id=run.pk)
        tokenizer, approximate = agent_tokenizer(agent)  # the server's own where it has one
        llm = with_tool_protocol(get_llm_for(agent), agent.tool_protocol)
        turn = Turn(store=store, llm=llm, publish=lambda e: events.publish(agent.pk, e), run_id=run.pk,
                    tokenizer=tokenizer, approximate=approximate,
                    settings=TurnSettings(page_size=settings.SEARCH_PAGE_SIZE, max_retries=settings.LLM_MAX_RETRIES,
                                          deadline_seconds=settings.TURN_DEADLINE_SECONDS),
                    tool_runner=SandboxRunner(), messenger=messaging.DjangoMessenger(run))
        try:
            result = play(turn)
        finally:
            store.embed_later()
    except LLMNotConfigured as error:
        _finish(run, Run.Status.FAILED, Run.StopReason.ERROR, str(error))
        return run
    except Exception as error:  # a bug or a lost database: report it on the run and keep the agent usable
        logger.exception("turn %s of agent %s failed", run.pk, agent.pk)
        _finish(run, Run.Status.FAILED, Run.StopReason.ERROR, f"Internal error: {type(error).__name__}: {error}")
        return run
    Agent.objects.filter(pk=agent.pk).update(last_active_at=timezone.now())
    if result.status == "waiting":
        _suspend(run, result.suspension)
        return run
    status = {"completed": Run.Status.COMPLETED, "cancelled": Run.Status.CANCELLED}.get(result.status, Run.Status.FAILED)
    _finish(run, status, result.stop_reason, result.error, steps=result.steps)
    return run


def _suspend(run: Run, suspension: Suspension) -> None:
    """The turn waits for other agents' replies: stored, so that any worker resumes it when they come,
    or when its time is up (a task due then; the runs sweep if that is lost)."""
    from agents.tasks import process_runs

    timeout = settings.AGENT_REPLY_TIMEOUT_SECONDS
    run.status, run.suspension = Run.Status.WAITING, asdict(suspension)
    run.waiting_until = timezone.now() + timedelta(seconds=timeout)
    run.save(update_fields=["status", "suspension", "waiting_until"])
    runs = [pk for call in suspension.waiting for pk in call["runs"]]
    agents = [{"agent_id": messaging.agent_id(pk), "name": name}
              for pk, name in Run.objects.filter(pk__in=runs).order_by("id").values_list("agent_id", "agent__name")]
    events.publish(run.agent_id, event.waiting(run_id=run.pk, runs=runs, agents=agents,
                                               until=run.waiting_until.isoformat()))
    try:
        process_runs.apply_async((run.agent_id,), countdown=timeout + 0.5)
    except Exception:  # Redis away: the runs sweep resumes the run
        logger.warning("could not queue the end of run %s's wait", run.pk, exc_info=True)


def agent_duplicate(*, agent: Agent) -> Agent:
    """A new agent with the same settings, tools and copies of its core memory blocks; no conversation."""
    blocks = [{"label": b.label, "value": b.value, "limit": b.limit, "description": b.description, "read_only": b.read_only}
              for b in Block.objects.filter(blockattachment__agent=agent).order_by("blockattachment__position")]
    copy = agent_create(owner=agent.owner, name=f"{agent.name} (copy)", model=agent.model, system=agent.system,
                        context_window=agent.context_window, temperature=agent.temperature,
                        embedding_model=agent.embedding_model, description=agent.description, tags=agent.tags,
                        blocks=blocks, tool_ids=list(agent.tools.values_list("pk", flat=True)), include_base_tools=False)
    Agent.objects.filter(pk=copy.pk).update(warning_share=agent.warning_share, evict_share=agent.evict_share,
                                            completion_reserve=agent.completion_reserve, max_steps=agent.max_steps,
                                            tool_rules=agent.tool_rules, heartbeat_fallback=agent.heartbeat_fallback,
                                            tool_protocol=agent.tool_protocol)
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
    """Delete the agent, its conversation and the blocks only it has; the agents that wait for its
    replies are told it is gone."""
    from agents.tasks import process_runs

    blocks = list(Block.objects.filter(blockattachment__agent=agent))
    waiting = set(Run.objects.filter(children__agent=agent, children__awaited=True, status=Run.Status.WAITING)
                  .values_list("agent_id", flat=True))
    deleted = agent.pk
    agent.delete()
    milvus.passages_delete_later(agent_id=deleted)  # its own passages went with it (documents' stay)
    for agent_id in waiting - {deleted}:
        transaction.on_commit(lambda agent_id=agent_id: process_runs.delay(agent_id), robust=True)
    # blocks no other agent uses go with it
    Block.objects.filter(pk__in=[b.pk for b in blocks]).exclude(pk__in=BlockAttachment.objects.values("block")).delete()


# --- used by the REST API ------------------------------------------------------------------------


AGENT_EDITABLE = ("name", "description", "system", "tags", "model", "embedding_model", "context_window", "temperature",
                  "max_steps", "warning_share", "evict_share", "completion_reserve", "tool_rules", "heartbeat_fallback",
                  "tool_protocol")


def agent_create_with_folders(*, owner, folders: list, **fields) -> Agent:
    """agent_create, with folders (Sources) attached from the start."""
    with transaction.atomic():
        agent = agent_create(owner=owner, **fields)
        for folder in folders:
            source_attach(source=folder, agent=agent)
    return agent


def _check_settings(fields: dict, agent: Agent) -> None:
    """Settings that cannot work together are refused (ValueError), whoever sets them."""
    limit = model_window(fields["model"])
    if limit is not None and fields["context_window"] > limit:
        raise ValueError(f"the context window of {fields['context_window']} tokens is larger than "
                         f"{model_name(fields['model'])}'s own ({limit})")
    if not 0 < fields["evict_share"] < fields["warning_share"] < 1:
        raise ValueError("memory thresholds: 0 < evict share < warning share < 1 (a warning comes before eviction)")
    if fields["completion_reserve"] >= fields["context_window"] // 2:
        raise ValueError(f"the completion reserve of {fields['completion_reserve']} tokens must be under half the "
                         f"context window ({fields['context_window'] // 2})")
    if not 1 <= fields["max_steps"] <= 100:
        raise ValueError("the step limit is 1 to 100 steps a turn")
    if not 0 <= fields["temperature"] <= 2:
        raise ValueError("the temperature is 0 to 2")
    if fields["tool_protocol"] not in Agent.ToolProtocol.values:
        raise ValueError(f"the tool protocol is {' or '.join(Agent.ToolProtocol.values)}")
    tool_rules_check(fields["tool_rules"], names=set(agent.tools.values_list("name", flat=True)))


def tool_rules_check(rules: list, *, names: set[str]) -> None:
    """Letta-shaped tool rules, each a known kind with its fields, each about a tool the agent has."""
    if not isinstance(rules, list):
        raise ValueError("tool_rules must be a list")
    for rule in rules:
        kind = rule.get("type") if isinstance(rule, dict) else None
        if kind not in RULE_KINDS:
            raise ValueError(f"unknown tool rule type {kind!r}; the kinds are {', '.join(RULE_KINDS)}")
        unknown = [n for n in tools_named(rule) if n not in names]
        if unknown:
            raise ValueError(f"the {kind} rule names {unknown[0]!r}, which is not one of the agent's tools")
        if kind == "max_count_per_step" and not (isinstance(rule.get("max_count_limit"), int) and rule["max_count_limit"] >= 1):
            raise ValueError("a max_count_per_step rule needs max_count_limit, a whole number from 1")


def agent_update(*, agent: Agent, block_ids: list[int] | None = None, tool_ids: list[int] | None = None,
                 **changes) -> Agent:
    """Change an agent's settings; `block_ids` (the owner's blocks) replaces its core memory blocks,
    `tool_ids` (the owner's tools or built-in ones) its tool set. Settings that cannot work together
    (a rule about a tool it will not have, say) change nothing (ValueError)."""
    unknown = set(changes) - set(AGENT_EDITABLE)
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    with transaction.atomic():
        if tool_ids is not None:
            agent.tools.set(tools_usable_by(agent.owner).filter(pk__in=tool_ids))
        _check_settings({**{name: getattr(agent, name) for name in AGENT_EDITABLE}, **changes}, agent)
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


def runs_cancel(*, agent: Agent, run_ids: list[int] | None = None) -> dict[int, str]:
    """Cancel the agent's turns (all, or those named): run id -> "cancelled" for a queued turn, or
    "cancelling" for a turn under way, which stops before its next LLM call (its stop says so), or
    waiting for other agents, which stops at once, its waiting calls answered as cancelled. The
    turns a cancelled run waits for are cancelled too."""
    from agents.tasks import process_runs

    runs = Run.objects.filter(agent=agent, status__in=RUN_UNFINISHED).order_by("id")
    if run_ids is not None:
        runs = runs.filter(pk__in=run_ids)
    outcome = {}
    for run in runs:
        # conditional, so a worker that has just taken the run keeps it
        cancelled = Run.objects.filter(pk=run.pk, status=Run.Status.QUEUED).update(
            status=Run.Status.CANCELLED, stop_reason=Run.StopReason.CANCELLED, finished_at=timezone.now())
        if cancelled:
            run.refresh_from_db()
            _ended(run)
            _announce_end(run)
            outcome[run.pk] = Run.Status.CANCELLED
            continue
        # under way or waiting: asked to stop at its next step boundary (the engine reads this mark)
        Run.objects.filter(pk=run.pk, status__in=[Run.Status.RUNNING, Run.Status.WAITING]).update(
            stop_reason=Run.StopReason.CANCELLED)
        outcome[run.pk] = "cancelling"
        for child in Run.objects.filter(parent_run=run, awaited=True, status__in=RUN_UNFINISHED).select_related("agent"):
            runs_cancel(agent=child.agent, run_ids=[child.pk])
        if run.status == Run.Status.WAITING:  # its runner resumes it, to answer the waiting calls and stop
            transaction.on_commit(lambda: process_runs.delay(agent.pk), robust=True)
    return outcome


# --- core memory blocks: the one way a block changes, and how blocks join and leave agents -------


def _label_free(block: Block, label: str, agents) -> None:
    for agent in agents:
        if Block.objects.filter(blockattachment__agent=agent, label=label).exclude(pk=block.pk).exists():
            raise BlockLabelTaken(f"the agent {agent.name!r} already has a block labelled {label!r}")


def _memory_edited(agent_ids) -> None:
    Agent.objects.filter(pk__in=agent_ids).update(memory_edited_at=timezone.now())


def block_edit(*, block_id: int, actor: str = BlockRevision.Actor.USER, user=None, step_id: int | None = None,
               run_id: int | None = None, fields: dict | None = None, append: str | None = None,
               replace: tuple[str, str] | None = None, revision: BlockRevision | None = None, note: str = "") -> Block:
    """The one way a core memory block changes, by a person (`user`) or by an agent's tool (`step_id`).

    One edit at a time: set `fields` (label, description, value, limit, read_only), `append` a line to
    the value, `replace` (old, new) text in it, or restore the fields as they were before `revision`.
    The edit applies to the block as it is at that moment (its row is locked), so an edit made by
    someone else meanwhile is never lost. A label must stay unique on every agent that has the block;
    an agent cannot edit a read-only block. The change is kept as a revision (with `note`, why, if it was
    not an edit as such), the block's agents have
    their memory marked edited, and everyone watching them sees it at once."""
    if sum(edit is not None for edit in (fields, append, replace, revision)) != 1:
        raise ValueError("block_edit takes exactly one of fields, append, replace or revision")

    def change(block: Block) -> dict:
        if actor == BlockRevision.Actor.AGENT and block.read_only:
            raise BlockReadOnly(f"The block {block.label!r} is read-only; it cannot be edited.")
        if append is not None:
            return {"value": f"{block.value}\n{append}" if block.value else append}
        if replace is not None:
            old, new = replace
            if not old:
                raise BlockTextNotFound("old_content is empty; give the exact text to replace (use "
                                        "core_memory_append to add).")
            if old not in block.value:
                raise BlockTextNotFound(f"old_content {old!r:.200} was not found in the block {block.label!r}; "
                                        "it must match exactly.")
            return {"value": block.value.replace(old, new)}
        changes = dict(revision.before if revision is not None else fields)
        if changes.get("label", block.label) != block.label:
            _label_free(block, changes["label"], block.agents.all())
        return changes

    block, changed = block_write(block_id=block_id, actor=actor, user=user, step_id=step_id, change=change, note=note)
    if changed:
        agent_ids = list(BlockAttachment.objects.filter(block=block).values_list("agent_id", flat=True))
        _memory_edited(agent_ids)
        view = block_view(block)
        for agent_id in agent_ids:
            events.publish(agent_id, event.memory_change(block=view, actor=actor, run_id=run_id, step_id=step_id))
    return block


def block_attach(*, block: Block, agent: Agent, mark_edited: bool = True) -> BlockAttachment:
    """Put a block in the agent's core memory; BlockLabelTaken when it has another block with that label.
    `mark_edited=False` for an agent being created: its memory has not been edited yet."""
    _label_free(block, block.label, [agent])
    position = BlockAttachment.objects.filter(agent=agent).count()
    try:
        with transaction.atomic():
            attachment, created = BlockAttachment.objects.get_or_create(
                agent=agent, block=block, defaults={"position": position, "label": block.label})
    except IntegrityError:  # attached meanwhile with that label: the database has the last word
        raise BlockLabelTaken(f"the agent {agent.name!r} already has a block labelled {block.label!r}") from None
    if created and mark_edited:
        _memory_edited([agent.pk])
    return attachment


def block_detach(*, block: Block, agent: Agent, delete_if_unused: bool = False) -> int:
    """Take the block out of the agent's core memory; the block stays for other agents, unless
    `delete_if_unused` and no agent has it any more."""
    deleted, _ = BlockAttachment.objects.filter(agent=agent, block=block).delete()
    if deleted:
        _memory_edited([agent.pk])
    if delete_if_unused and not BlockAttachment.objects.filter(block=block).exists():
        block.delete()
    return deleted


def block_delete(*, block: Block) -> None:
    with transaction.atomic():
        _memory_edited(BlockAttachment.objects.filter(block=block).values("agent_id"))
        block.delete()


# --- supervision: turns stranded by a worker that died or a task message that was lost ----------


def runs_stranded(requeue_after: float):
    """Runs that may have nobody to run them: every run "running", the runs queued longer than
    `requeue_after` seconds (through the partial index of unfinished runs), and the waiting runs whose
    wait is over (their time is up, or none of the runs they wait for is left unfinished)."""
    waiting_since = timezone.now() - timedelta(seconds=requeue_after)
    awaited = Run.objects.filter(parent_run=OuterRef("pk"), awaited=True, status__in=RUN_UNFINISHED)
    return (Run.objects.filter(status=Run.Status.RUNNING)
            | Run.objects.filter(status=Run.Status.QUEUED, created_at__lt=waiting_since)
            | Run.objects.filter(status=Run.Status.WAITING).filter(Q(waiting_until__lte=timezone.now()) | ~Exists(awaited)))


def runs_sweep(*, requeue_after: float | None = None) -> dict[str, int]:
    """Fail the runs a dead worker left "running", and queue again the agents whose runs wait with
    no runner: {"failed": n, "requeued": n}. Every worker sweeps as it starts and then every
    RUNS_SWEEP_SECONDS (playground/celery.py); sweeps anywhere, at once, are safe.

    Only the holder of an agent's turn lock runs its turns, and the lock dies with the holder's
    database session, so whoever takes it knows a "running" run is an orphan. A run queued longer
    than `requeue_after` seconds (RUNS_REQUEUE_AFTER_SECONDS) while nobody holds the lock lost its
    task message (Redis was down when it was queued, say); a duplicate message costs nothing, as a
    task for an agent whose lock is taken leaves at once. So did a waiting run whose wait is over."""
    from agents.tasks import process_runs

    if requeue_after is None:
        requeue_after = settings.RUNS_REQUEUE_AFTER_SECONDS
    failed = requeued = 0
    for agent_id in sorted(set(runs_stranded(requeue_after).values_list("agent_id", flat=True))):
        if not _try_lock(agent_id):
            continue  # its runner is at work, and its loop takes the queued runs
        try:
            failed += Run.objects.filter(agent_id=agent_id, status=Run.Status.RUNNING).count()
            _fail_interrupted_runs(agent_id)
        finally:
            _unlock(agent_id)
        # a task that came while the sweep held the lock has left: its run needs another
        if _next_run(agent_id) is not None:
            process_runs.delay(agent_id)
            requeued += 1
    if failed or requeued:
        logger.warning("runs sweep: failed %s interrupted runs, queued the turns of %s agents again", failed, requeued)
    return {"failed": failed, "requeued": requeued}


# --- tools: built-in ones as rows, a person's Python functions, and each agent's tool set --------


def builtin_tools_sync() -> None:
    """The built-in tools' rows as the engine defines them (after every migrate: a description or
    schema changed in the code reaches the database)."""
    for schema in TOOL_SCHEMAS:
        function = schema["function"]
        Tool.objects.update_or_create(owner=None, name=function["name"], defaults={
            "kind": Tool.Kind.BUILTIN, "description": function["description"], "json_schema": schema})


def _parsed_fields(source_code: str, description: str | None) -> dict:
    """The fields a tool's source decides; ToolSourceError (with the line) for source that cannot be a tool."""
    parsed = tool_parse(source_code)
    schema = tool_schema(parsed)
    if description:
        schema["function"]["description"] = description
    return {"name": parsed.name, "description": schema["function"]["description"], "json_schema": schema,
            "source_code": source_code, "takes_agent_state": parsed.takes_agent_state}


def tool_create(*, owner, source_code: str, description: str | None = None, tags: list[str] | None = None,
                return_char_limit: int = 6000, pip_requirements: list[str] | None = None) -> Tool:
    """A custom tool from the source of one Python function; its name and schema come from the source.
    ToolSourceError for bad source, IntegrityError for a name the owner uses already."""
    with transaction.atomic():
        return Tool.objects.create(owner=owner, kind=Tool.Kind.CUSTOM, tags=tags or [], return_char_limit=return_char_limit,
                                   pip_requirements=pip_requirements or [], **_parsed_fields(source_code, description))


def tool_upsert(*, owner, source_code: str, **fields) -> Tool:
    """The owner's tool named as the function in `source_code`: replaced if it exists, else created."""
    existing = Tool.objects.filter(owner=owner, name=tool_parse(source_code).name).first()
    if existing is not None:
        return tool_update(tool=existing, source_code=source_code, **fields)
    return tool_create(owner=owner, source_code=source_code, **fields)


TOOL_EDITABLE = ("source_code", "description", "tags", "return_char_limit", "pip_requirements")


def tool_update(*, tool: Tool, **changes) -> Tool:
    """Change a custom tool; new source makes a new name and schema. Built-in tools are read-only."""
    if tool.kind == Tool.Kind.BUILTIN:
        raise PermissionError(f"{tool.name} is a built-in tool: it cannot be changed")
    unknown = set(changes) - set(TOOL_EDITABLE)
    if unknown:
        raise ValueError(f"cannot change {', '.join(sorted(unknown))}")
    if "source_code" in changes or "description" in changes:
        changes.update(_parsed_fields(changes.get("source_code", tool.source_code), changes.get("description")))
    if changes.get("name", tool.name) != tool.name:  # a renamed function: its agents must still make sense
        for agent in tool.agents.all():
            if agent.tools.filter(name=changes["name"]).exists():
                raise ValueError(f"{agent.name} has a tool named {changes['name']!r} already")
            if any(tool.name in tools_named(rule) for rule in agent.tool_rules):
                raise ValueError(f"{agent.name}'s tool rules name {tool.name}: change them before renaming it")
    for field, value in changes.items():
        setattr(tool, field, value)
    with transaction.atomic():
        tool.save()
    return tool


def tool_delete(*, tool: Tool) -> None:
    if tool.kind == Tool.Kind.BUILTIN:
        raise PermissionError(f"{tool.name} is a built-in tool: it cannot be deleted")
    tool.delete()


def tool_run(*, tool: Tool, arguments: dict, agent: Agent | None = None) -> ToolRun:
    """Run a custom tool by hand in the sandbox, as an agent's call would run it (with the agent's
    state, for a tool that reads agent_state). Never raises for what the tool does."""
    if tool.kind == Tool.Kind.BUILTIN:
        raise PermissionError(f"{tool.name} is a built-in tool: it runs only in an agent's turn")
    if agent is not None and agent.owner_id != tool.owner_id:
        raise PermissionError("that agent belongs to someone else")
    if tool.takes_agent_state and agent is None:
        raise ValueError(f"{tool.name} reads agent_state: choose the agent whose state it reads")
    state = DjangoStore(agent).load() if agent is not None else None
    return SandboxRunner().run(tool_spec(tool), arguments, state)


def tool_attach(*, agent: Agent, tool: Tool) -> None:
    """Give the agent a tool (its own owner's, or a built-in one); a second tool of the same name is refused."""
    if tool.owner_id not in (None, agent.owner_id):
        raise PermissionError("that tool belongs to someone else")
    if agent.tools.filter(name=tool.name).exclude(pk=tool.pk).exists():
        raise ValueError(f"{agent.name} has a tool named {tool.name!r} already")
    agent.tools.add(tool)


def tool_detach(*, agent: Agent, tool: Tool) -> None:
    """Take a tool from the agent; refused while one of its tool rules names it."""
    for rule in agent.tool_rules:
        if tool.name in tools_named(rule):
            raise ValueError(f"{agent.name}'s {rule.get('type')} rule names {tool.name}: change the rule first")
    agent.tools.remove(tool)


# --- model servers ---------------------------------------------------------------------------

SERVER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def _model_server_problems(*, name: str | None = None, kind: str | None = None, base_url: str | None = None,
                           api_key: str | None = None) -> dict[str, str]:
    problems = {}
    if name is not None and not SERVER_NAME.match(name):
        problems["name"] = "A name of letters, digits, '.', '-' or '_' (up to 64), without spaces or '/'."
    elif name is not None and name.lower() == DEFAULT_SERVER:
        # "openai/<model>" already names a model of the operator's server (OPENAI_BASE_URL)
        problems["name"] = f"{DEFAULT_SERVER!r} names the playground's own server; choose another name."
    if kind is not None and kind not in ModelServer.Kind.values:
        problems["kind"] = f"One of {', '.join(ModelServer.Kind.values)}."
    if base_url is not None:
        try:
            parts = urlsplit(base_url)
            parts.port  # noqa: B018  (raises for a port that is not a number)
        except ValueError:
            parts = urlsplit("")
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment \
                or any(c.isspace() or not c.isprintable() for c in base_url):
            problems["base_url"] = "An http:// or https:// address, like http://localhost:8000/v1."
        elif parts.username or parts.password:
            # the address is shown back on pages and in the API; a key belongs in the key field, encrypted
            problems["base_url"] = "An address without a user name or password: put the key in the key field."
        elif len(base_url) > 500:
            problems["base_url"] = "At most 500 characters."
    # it travels in an HTTP header: printable ASCII only
    if api_key is not None and (len(api_key) > 2000 or not api_key.isascii()
                                or any(c.isspace() or not c.isprintable() for c in api_key)):
        problems["api_key"] = "A key of up to 2,000 letters, digits and signs, without spaces."
    return problems


def model_server_create(*, owner, name: str, kind: str = ModelServer.Kind.OTHER, base_url: str,
                        api_key: str = "") -> ModelServer:
    """One more server whose models the owner's agents may use, as "<name>/<model>"; the key is
    stored encrypted. ModelServerInvalid says what is wrong, field by field."""
    name, base_url, api_key = name.strip(), base_url.strip().rstrip("/"), api_key.strip()
    if problems := _model_server_problems(name=name, kind=kind, base_url=base_url, api_key=api_key):
        raise ModelServerInvalid(problems)
    try:
        with transaction.atomic():
            return ModelServer.objects.create(owner=owner, name=name, kind=kind, base_url=base_url,
                                              api_key_encrypted=key_encrypt(api_key))
    except IntegrityError:
        raise ModelServerInvalid({"name": f"You have a model server named {name!r} already."}, taken=True) from None


def model_server_update(*, server: ModelServer, kind: str | None = None, base_url: str | None = None,
                        api_key: str | None = None) -> ModelServer:
    """Change a server's kind, address or key (None keeps it; an empty key removes it). Its name
    stays: agents name their model by it."""
    base_url = base_url.strip().rstrip("/") if base_url is not None else None
    api_key = api_key.strip() if api_key is not None else None
    if problems := _model_server_problems(kind=kind, base_url=base_url, api_key=api_key):
        raise ModelServerInvalid(problems)
    if kind is not None:
        server.kind = kind
    if base_url is not None:
        server.base_url = base_url
    if api_key is not None:
        server.api_key_encrypted = key_encrypt(api_key)
    server.save()
    return server


def model_server_delete(*, server: ModelServer) -> None:
    """Delete a server no agent uses: an agent naming it would otherwise send its turns elsewhere."""
    using = list(Agent.objects.filter(owner_id=server.owner_id, model__startswith=server.name + "/")
                 .order_by("name").values_list("name", flat=True)[:5])
    if using:
        raise ValueError(f"{', '.join(using)} use{'s' if len(using) == 1 else ''} {server.name}: "
                         "give them another model first")
    server.delete()


# --- summarizing on request, and editing messages of recall memory (REST API) -------------------

SUMMARIZE = "summarize"  # the input of the system run agent_summarize_enqueue queues
NOTHING_TO_SUMMARIZE = ("The context window holds {count} message(s): nothing to summarize (the newest message "
                        "always stays, and a tool call never leaves without its result).")


def agent_summarize_enqueue(*, agent: Agent) -> Run:
    """Queue a run that folds the oldest part of the context window (its evict share) into the
    recursive summary, exactly as memory pressure does. A run of the agent's, because the summary
    is an LLM call and turns of one agent never interleave. ValueError when nothing can be evicted."""
    from agents.tasks import process_runs

    if not llm_configured(agent.model):
        raise LLMNotConfigured(NOT_CONFIGURED)
    queue = [message_view(m) for m in Message.objects.filter(agent=agent, in_context=True)
             .exclude(kind=Message.Kind.SUMMARY).order_by("id")]
    if eviction_point(queue, agent.evict_share) == 0:
        raise ValueError(NOTHING_TO_SUMMARIZE.format(count=len(queue)))
    with transaction.atomic():
        run = Run.objects.create(agent=agent, trigger=Run.Trigger.SYSTEM, input=SUMMARIZE)
    transaction.on_commit(lambda: process_runs.delay(agent.pk), robust=True)
    return run


def _summarize(turn: Turn) -> TurnResult:
    """The summarize run: the engine's own flush, on the context as it is when the run starts (a
    turn queued before may have changed it since the request)."""
    turn.begin()
    if eviction_point(turn.state.messages, turn.state.evict_share) == 0:
        return TurnResult("failed", "error", error=NOTHING_TO_SUMMARIZE.format(count=len(turn.state.messages)))
    try:
        turn.flush()
    except TurnFailure as failure:
        return TurnResult("failed", "error", error=str(failure))
    return TurnResult("completed", Run.StopReason.END_TURN)


EDITABLE_AS = {  # Letta's message types a person may edit -> the kinds of our rows that show as them
    "user_message": (Message.Kind.USER_MESSAGE, Message.Kind.AGENT_MESSAGE, Message.Kind.GROUP_MESSAGE),
    "system_message": (Message.Kind.SYSTEM_ALERT, Message.Kind.HEARTBEAT, Message.Kind.LOGIN),
    "reasoning_message": (Message.Kind.ASSISTANT,),
    "assistant_message": (Message.Kind.ASSISTANT,),
}


def _packed_with(content: str, text: str) -> str:
    """A packed event (prompts.packed) with its message replaced; its type, time and sender kept."""
    try:
        fields = json.loads(content)
    except ValueError:
        fields = None
    if not isinstance(fields, dict) or "message" not in fields:
        raise ValueError("this message is not stored as a packed event, so its text cannot be edited")
    return json.dumps({**fields, "message": text}, ensure_ascii=False)


def _with_argument(call: dict, name: str, value: str) -> dict:
    try:
        arguments = json.loads(call["function"]["arguments"])
    except ValueError:
        arguments = None
    if not isinstance(arguments, dict):
        raise ValueError(f"the {call['function']['name']} call's arguments are not a JSON object; it cannot be edited")
    return {**call, "function": {**call["function"], "arguments": json.dumps({**arguments, name: value},
                                                                               ensure_ascii=False)}}


def _system_content(message: Message, content: str) -> dict:
    """A system message given whole, as Letta shows it (the packed event the model saw): it must stay
    an event of the same type."""
    try:
        fields = json.loads(content)
    except ValueError:
        raise ValueError("the content starts like JSON but is not JSON; send the packed event as shown, or plain "
                         "text for its message") from None
    try:
        before = json.loads(message.content)
    except ValueError:
        before = None
    if not isinstance(fields, dict) or not isinstance(before, dict) or fields.get("type") != before.get("type"):
        raise ValueError("a system message stays an event of its type: keep its \"type\" field as it is")
    words = fields.get("message", fields.get("reason", ""))
    return {"content": json.dumps(fields, ensure_ascii=False), "text": words if isinstance(words, str) else message.text}


def message_edit(*, message: Message, message_type: str, text: str) -> Message:
    """Change what a message of recall memory says, as Letta's modify_message does, in the form
    the model is sent it, so the next prompt and every view of the message agree: a user message
    keeps its packed JSON (type, time, sender) with the new words; an assistant row changes its
    inner thoughts (reasoning_message) or the message argument of its send_message call
    (assistant_message); a system message takes plain words, or its whole packed event as shown.
    ValueError for an edit that would break the message: a type the row does not show as, empty
    words, a system event of another type, or a row with several send_message calls (which one?)."""
    if message.kind not in EDITABLE_AS.get(message_type, ()):
        shown = " or ".join(t for t, kinds in EDITABLE_AS.items() if message.kind in kinds)
        raise ValueError(f"message {message.pk} shows as {shown or 'a message that cannot be edited (a tool result or a summary)'}, "
                         f"not as {message_type}")
    if not text.strip():  # an empty user message or answer is no message; empty thoughts would vanish from view
        raise ValueError("the new content is empty")
    if message_type == "system_message" and text.lstrip().startswith("{"):
        changes = _system_content(message, text)
    elif message_type in ("user_message", "system_message"):
        changes = {"content": _packed_with(message.content, text), "text": text}
    elif not message.tool_calls:  # a plain-text answer: its content is both what it thought and said
        if message_type == "reasoning_message":
            raise ValueError("this assistant message has no inner thoughts apart from what it said: edit it as an "
                             "assistant_message")
        changes = {"content": text, "text": text.strip()}
    else:
        calls, content = list(message.tool_calls), message.content
        if message_type == "reasoning_message":
            # the thoughts are where event.thoughts_of reads them: the content, or an argument a model put them in
            holder = next(((i, name) for i, call in enumerate(calls) for name in ("thinking", "inner_thoughts")
                           if argument_of(call["function"]["arguments"], name) is not None), None)
            if content.strip() or holder is None:
                content = text
            else:
                calls[holder[0]] = _with_argument(calls[holder[0]], holder[1], text)
        else:
            sends = [i for i, call in enumerate(calls) if call["function"]["name"] == "send_message"]
            if len(sends) != 1:
                raise ValueError(f"this assistant message has {len(sends)} send_message calls; only one can be edited")
            calls[sends[0]] = _with_argument(calls[sends[0]], "message", text)
        # what search matches, made as the engine makes it (Turn.act)
        spoken = [argument_of(c["function"]["arguments"], "message") for c in calls if c["function"]["name"] == "send_message"]
        changes = {"content": content, "tool_calls": calls,
                   "text": "\n\n".join(s for s in spoken if s) or event.thoughts_of(content, calls)}
    for field, value in changes.items():
        setattr(message, field, value)
    message.embedding, message.embedding_model = None, ""  # the old vector matches the old words
    with transaction.atomic():
        message.save(update_fields=[*changes, "embedding", "embedding_model"])
    messages_embed_later(messages=[message])
    return message


# --- the model check (agents/llm/check.py), run on the worker, its report kept a while in Redis ---

MODEL_CHECK_KEEP_SECONDS = 3600


def _model_check_key(agent_id: int, check_id: str) -> str:
    return f"{settings.CELERY_TASK_DEFAULT_QUEUE}:model-check:{agent_id}:{check_id}"  # test sessions apart


def _model_check_store(agent_id: int, check_id: str, value: dict) -> None:
    from memory.embedding_queue import client

    client(settings.REDIS_URL).set(_model_check_key(agent_id, check_id), json.dumps(value), ex=MODEL_CHECK_KEEP_SECONDS)


def model_check_enqueue(*, agent: Agent) -> str:
    """Queue a check of the agent's model on a worker (it takes as long as a few LLM calls); its id,
    to read the report by (model_check_result) once it is there."""
    import uuid

    from agents.tasks import check_model

    check_id = uuid.uuid4().hex
    _model_check_store(agent.pk, check_id, {"status": "running", "model": agent.model or settings.LLM_MODEL})
    transaction.on_commit(lambda: check_model.delay(agent.pk, check_id))
    return check_id


def model_check_run(*, agent_id: int, check_id: str) -> None:
    """Run a queued check (on the worker) and keep its report; nothing if the agent is gone."""
    from agents.llm.check import check_agent

    agent = Agent.objects.filter(pk=agent_id).first()
    if agent is None:
        return
    try:
        if not llm_configured(agent.model):
            raise LLMNotConfigured(NOT_CONFIGURED)
        result = {"status": "done", "report": check_agent(agent).as_dict()}
    except LLMNotConfigured as error:
        result = {"status": "error", "error": str(error)}
    except Exception as error:  # a bug of ours: said on the page, not lost in a worker's log alone
        logger.exception("model check of agent %s failed", agent_id)
        result = {"status": "error", "error": f"Internal error: {type(error).__name__}: {error}"}
    _model_check_store(agent_id, check_id, result)


def model_check_result(*, agent: Agent, check_id: str) -> dict | None:
    """The check as it is now: {"status": "running"}, {"status": "done", "report": {...}} or
    {"status": "error", "error"}; None when there is no such check (or it is too old)."""
    from memory.embedding_queue import client

    raw = client(settings.REDIS_URL).get(_model_check_key(agent.pk, check_id))
    return json.loads(raw) if raw else None
