"""A rewind: an agent returned to just before one of its steps, in place. What came after goes (its
messages, archival passages, runs and steps, the block edits since, the wake-ups those steps
scheduled); the window, core memory and the memory flags are as the step's state has them, and the
step waits to be made again (Agent.pending_turn; agents.services.turn_continue sends its request).

What went is kept in the Rewind row, exactly as it was, until a person confirms: the latest rewind
can be undone meanwhile, unless the agent has gone on since (then a fork is the way back).

The run the step belonged to stays, with its earlier steps and its status as it ended: its history
says what happened then; the rest of it is gone, and the step made again is a new `continue` run.
Settings, tools and folders stay as they are now (a person's choices, not the agent's doing); the
preview says when they differ from the step's."""

import time
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.apps import apps
from django.db import connection, models, transaction
from django.db.models import Max, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from agents.engine import snapshot
from agents.errors import RewindRefused
from agents.history.fork import pending_turn, step_state
from agents.history.rows import rows_dump, rows_restore
from agents.models import RUN_UNFINISHED, Agent, Rewind, Run, ScheduledMessage, Step
from memory import milvus
from memory.models import Block, BlockAttachment, BlockRevision, Message, Passage
from memory.services import block_create, messages_embed_later

BUSY = ("A run of {name} is queued or under way: wait for it to end, or cancel it, and try again (an agent is "
        "rewound, or a rewind undone, only between turns).")
GONE_ON = ("{name} has gone on since the rewind (new messages, runs, passages or block edits): undoing it would "
           "lose them. To keep both, fork the agent from one of its steps instead.")
LOCK_WAIT_SECONDS = 5.0  # a runner that has just finished its last run lets go of the lock within moments
SETTINGS = ("system", "temperature", "context_window", "completion_reserve", "warning_share", "evict_share",
            "max_steps", "tool_rules", "heartbeat_fallback")
BLOCK_FIELDS = ("label", "value", "limit", "description", "read_only")


def _short(text: str, limit: int = 200) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


# --- what goes ------------------------------------------------------------------------------------


@dataclass
class RewindPreview:
    """What a rewind to just before `step` removes and restores; `refused` says why it cannot be done now."""

    agent: Agent
    step: Step
    messages: list[dict] = field(default_factory=list)
    block_edits: list[dict] = field(default_factory=list)
    blocks: list[dict] = field(default_factory=list)
    passages: list[dict] = field(default_factory=list)
    runs: list[dict] = field(default_factory=list)
    steps: list[dict] = field(default_factory=list)
    wakeups: list[dict] = field(default_factory=list)
    window: list[dict] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    refused: str = ""

    @property
    def counts(self) -> dict[str, int]:
        return {"messages": len(self.messages), "block_edits": len(self.block_edits), "passages": len(self.passages),
                "runs": len(self.runs), "steps": len(self.steps), "wakeups": len(self.wakeups)}


def _gone(agent: Agent, step: Step, state: dict) -> dict[str, models.QuerySet]:
    """The rows that came after the step: each id past the step's last of its kind (ids only grow)."""
    return {
        "messages": Message.objects.filter(agent=agent, pk__gt=state["last_message_id"] or 0).order_by("id"),
        "passages": Passage.objects.filter(agent=agent, pk__gt=state["last_passage_id"] or 0).order_by("id"),
        "runs": Run.objects.filter(agent=agent, pk__gt=step.run_id).order_by("id"),
        "steps": Step.objects.filter(Q(run_id=step.run_id, index__gte=step.index) | Q(agent=agent, run_id__gt=step.run_id))
                             .order_by("run_id", "index"),
    }


def _message_line(message: Message) -> dict:
    text = message.text or message.content
    if not text and message.tool_calls:
        text = "calls " + ", ".join(call.get("function", {}).get("name", "?") for call in message.tool_calls)
    return {"id": message.pk, "kind": message.kind, "role": message.role, "text": _short(text),
            "created_at": message.created_at}


def _revision_line(revision: BlockRevision) -> dict:
    name = "value" if "value" in revision.after else next(iter(revision.after), "value")
    if revision.actor == BlockRevision.Actor.AGENT and revision.step is not None:
        by = f"agent {revision.step.agent.name}, step {revision.step.index} of run {revision.step.run_id}"
    else:
        by = revision.user.get_username() if revision.user else revision.actor
    return {"id": revision.pk, "block_id": revision.block_id, "label": revision.block.label, "actor": revision.actor,
            "by": by, "field": name, "before": _short(str(revision.before.get(name, ""))),
            "after": _short(str(revision.after.get(name, ""))), "created_at": revision.created_at}


def _blocks(agent: Agent, state: dict, warnings: list[str]) -> list[dict]:
    """Each block of the state as it will be, and what happens to the blocks attached or detached since."""
    views = snapshot.blocks_of(state)
    existing = Block.objects.in_bulk([v.id for v in views])
    attached = set(BlockAttachment.objects.filter(agent=agent).values_list("block_id", flat=True))
    lines = []
    for view in views:
        block = existing.get(view.id)
        others = [] if block is None else list(block.agents.exclude(pk=agent.pk).values_list("name", flat=True))
        changed = block is None or any(getattr(block, f) != getattr(view, f) for f in BLOCK_FIELDS)
        if block is None:
            warnings.append(f"The block {view.label!r} was deleted since the step: a new block is made with its value "
                            "then.")
        elif view.id not in attached:
            warnings.append(f"The block {view.label!r} was taken out of core memory since the step: it is attached "
                            "again, with its value then.")
        if changed and others:
            warnings.append(f"The block {view.label!r} is shared with {', '.join(others)}: rewinding changes it for "
                            "them too.")
        lines.append({"id": view.id, "label": view.label, "now": None if block is None else block.value,
                      "after": view.value, "changed": changed, "shared_with": others})
    for block in Block.objects.filter(pk__in=attached - set(existing)).order_by("id"):
        warnings.append(f"The block {block.label!r} was added to core memory since the step: it is taken out again "
                        "(the block itself stays, as it is).")
    return lines


def _settings_changed(agent: Agent, state: dict) -> list[str]:
    then = state["agent"]
    changed = [name for name in SETTINGS if getattr(agent, name) != state[name]]
    changed += [name for name in ("model", "tool_protocol", "embedding_model") if getattr(agent, name) != then[name]]
    if set(agent.tools.values_list("pk", flat=True)) != set(then["tool_ids"]):
        changed.append("tools")
    if set(agent.sources.values_list("pk", flat=True)) != set(then["source_ids"]):
        changed.append("folders")
    return changed


def rewind_preview(*, agent: Agent, step: Step) -> RewindPreview:
    """What a rewind to just before `step` would remove and how the agent would be: HistoryMissing for a
    step that keeps no state, RewindRefused for another agent's step."""
    if step.agent_id != agent.pk:
        raise RewindRefused(f"Step {step.pk} is not a step of {agent.name}.")
    state = step_state(step)
    gone = _gone(agent, step, state)
    preview = RewindPreview(agent=agent, step=step)
    preview.messages = [_message_line(m) for m in gone["messages"]]
    preview.passages = [{"id": p.pk, "text": _short(p.text), "created_at": p.created_at} for p in gone["passages"]]
    preview.runs = [{"id": r.pk, "trigger": r.trigger, "status": r.status, "input": _short(r.input, 120),
                     "created_at": r.created_at} for r in gone["runs"]]
    preview.steps = [{"id": s.pk, "run_id": s.run_id, "index": s.index, "purpose": s.purpose} for s in gone["steps"]]
    step_ids = [s["id"] for s in preview.steps]
    preview.wakeups = [{"id": w.pk, "text": _short(w.text), "next_run_at": w.next_run_at, "every_seconds": w.every_seconds}
                       for w in _wakeups(agent, step_ids)]
    block_ids = [view.id for view in snapshot.blocks_of(state)]
    revisions = (BlockRevision.objects.filter(block_id__in=block_ids, pk__gt=state["last_revision_id"] or 0)
                 .select_related("block", "user", "step__agent").order_by("id"))
    preview.block_edits = [_revision_line(r) for r in revisions]
    preview.blocks = _blocks(agent, state, preview.warnings)
    window = snapshot.window_ids(state)
    kept = Message.objects.in_bulk(window)
    preview.window = [_message_line(kept[pk]) for pk in window if pk in kept]
    if missing := len(window) - len(preview.window):
        preview.warnings.append(f"{missing} messages of the window at the step were deleted since: the step made "
                                "again will not send its request exactly.")
    if changed := _settings_changed(agent, state):
        preview.warnings.append(f"Changed since the step, and kept as they are now: {', '.join(changed)}. The step "
                                "made again sends them as they are now.")
    others = set(Run.objects.filter(parent_step_id__in=step_ids).exclude(agent=agent).values_list("agent__name", flat=True))
    if others:
        preview.warnings.append(f"The steps that go sent messages to other agents ({', '.join(sorted(others))}); "
                                "what those agents did with them stays.")
    if _busy(agent):
        preview.refused = BUSY.format(name=agent.name)
    return preview


def _wakeups(agent: Agent, step_ids: list[int]) -> models.QuerySet:
    """The agent's wake-ups still to come that those steps scheduled (the schedule_wakeup tool)."""
    return ScheduledMessage.objects.filter(agent=agent, created_by_step_id__in=step_ids,
                                           status=ScheduledMessage.Status.ACTIVE).order_by("id")


def _busy(agent: Agent) -> bool:
    return Run.objects.filter(agent=agent, status__in=RUN_UNFINISHED).exists()


# --- the turn lock ------------------------------------------------------------------------------


@contextmanager
def _turns_held(agent: Agent):
    """The agent's turn lock (agents.services): no turn of it starts or goes on while it is held."""
    from agents.services import _try_lock, _unlock

    deadline = time.monotonic() + LOCK_WAIT_SECONDS
    while not _try_lock(agent.pk):
        if _busy(agent) or time.monotonic() > deadline:
            raise RewindRefused(BUSY.format(name=agent.name))
        time.sleep(0.05)  # the runner of a turn that just ended, letting go
    try:
        yield
    finally:
        _unlock(agent.pk)
        _queued_meanwhile(agent)


def _queued_meanwhile(agent: Agent) -> None:
    """A turn queued while the lock was held found it taken and left its run to the holder: us."""
    from agents.tasks import process_runs

    if Run.objects.filter(agent=agent, status=Run.Status.QUEUED).exists():
        transaction.on_commit(lambda: process_runs.delay(agent.pk), robust=True)  # Redis down: runs_sweep requeues


def _locked_agent(agent: Agent) -> Agent:
    agent = Agent.objects.select_for_update().get(pk=agent.pk)
    if _busy(agent):
        raise RewindRefused(BUSY.format(name=agent.name))
    return agent


# --- rewind ---------------------------------------------------------------------------------------


def _relations(model) -> list:
    """The foreign keys pointing at `model`'s rows (hidden ones too): (related model, field, on_delete)."""
    return [(rel.related_model, rel.field, rel.on_delete) for rel in model._meta.get_fields(include_hidden=True)
            if rel.auto_created and not rel.concrete and (rel.one_to_many or rel.one_to_one)]


def _keep(agent: Agent, gone: dict[str, models.QuerySet]) -> dict:
    """Everything the rewind deletes or changes, as it is now."""
    ids = {name: list(rows.values_list("pk", flat=True)) for name, rows in gone.items()}
    kept = {name: rows_dump(model, ids=ids[name])
            for name, model in (("messages", Message), ("passages", Passage), ("runs", Run), ("steps", Step))}
    # rows of others that point at the runs and steps that go: deleted with them (a step's replays), or
    # unlinked (SET_NULL: another agent's run a step sent, a fork made from a step, a revision a step made)
    kept["cascaded"], kept["references"] = [], []
    for model, name in ((Run, "runs"), (Step, "steps")):
        for related, fk, on_delete in _relations(model):
            rows = related._base_manager.filter(**{f"{fk.attname}__in": ids[name]})
            if on_delete is models.CASCADE and related is not Step:  # the steps of the runs are all in "steps"
                kept["cascaded"].append({"model": related._meta.label,
                                         "rows": rows_dump(related, ids=rows.values_list("pk", flat=True))})
            elif on_delete is models.SET_NULL:
                kept["references"].append({"model": related._meta.label, "field": fk.attname,
                                           "rows": [list(row) for row in rows.values_list("pk", fk.attname)]})
    kept["wakeups"] = [{"id": w.pk, "status": w.status, "next_run_at": _iso(w.next_run_at), "ended_at": _iso(w.ended_at)}
                       for w in _wakeups(agent, ids["steps"])]
    kept["in_context"] = list(Message.objects.filter(agent=agent, in_context=True).values_list("pk", flat=True))
    attachments = BlockAttachment.objects.filter(agent=agent).values_list("pk", flat=True)
    kept["attachments"] = rows_dump(BlockAttachment, ids=attachments)
    kept["agent"] = {"memory_warning_sent": agent.memory_warning_sent, "memory_edited_at": _iso(agent.memory_edited_at),
                     "pending_turn": agent.pending_turn}
    return kept


def _delete(kept: dict) -> None:
    Message.objects.filter(pk__in=[row["id"] for row in kept["messages"]]).delete()
    passages = [row["id"] for row in kept["passages"]]
    Passage.objects.filter(pk__in=passages).delete()
    milvus.passages_delete_later(ids=passages)  # as memory.services.passage_delete does
    Step.objects.filter(pk__in=[row["id"] for row in kept["steps"]]).delete()  # their replays too; the rest unlinked
    Run.objects.filter(pk__in=[row["id"] for row in kept["runs"]]).delete()
    ScheduledMessage.objects.filter(pk__in=[w["id"] for w in kept["wakeups"]]).update(
        status=ScheduledMessage.Status.CANCELLED, next_run_at=None, ended_at=timezone.now())


def _set_window(agent: Agent, window: list[int]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("UPDATE memory_message SET in_context = (id = ANY(%s)) "
                       "WHERE agent_id = %s AND in_context <> (id = ANY(%s))", [window, agent.pk, window])


def _blocks_restore(agent: Agent, state: dict, user, where: str) -> dict:
    """Core memory as the state has it, through block_edit (each change a revision by `user`): the
    blocks attached since go out, those detached since come back, deleted ones are made anew."""
    from agents.services import block_edit

    views = snapshot.blocks_of(state)
    BlockAttachment.objects.filter(agent=agent).exclude(block_id__in=[v.id for v in views]).delete()
    before, created = [], []
    for position, view in enumerate(views):
        wanted = {name: getattr(view, name) for name in BLOCK_FIELDS}
        block = Block.objects.filter(pk=view.id).first()
        if block is None:
            block = block_create(owner=agent.owner, **wanted)
            created.append(block.pk)
        elif changes := {name: value for name, value in wanted.items() if getattr(block, name) != value}:
            before.append({"id": block.pk, **{name: getattr(block, name) for name in changes}})
            block_edit(block_id=block.pk, user=user, fields=changes, note=f"rewind to before step {where}")
        BlockAttachment.objects.update_or_create(agent=agent, block=block,
                                                 defaults={"label": view.label, "position": position})
    return {"blocks": before, "created_blocks": created}


def agent_rewind(*, agent: Agent, step: Step, user=None) -> Rewind:
    """Return the agent to just before `step` (see the module's docstring). Refused (RewindRefused) while a
    run of it is queued or under way, or for another agent's step; HistoryMissing for a step without state.
    Done in one transaction, with the agent's turn lock held."""
    if step.agent_id != agent.pk:
        raise RewindRefused(f"Step {step.pk} is not a step of {agent.name}.")
    state = step_state(step)
    with _turns_held(agent), transaction.atomic():
        locked = _locked_agent(agent)
        preview = rewind_preview(agent=locked, step=step)  # under the lock: nothing moves now
        kept = _keep(locked, _gone(locked, step, state))
        _delete(kept)
        kept |= _blocks_restore(agent, state, user, f"{step.index} of run {step.run_id}")
        _set_window(agent, snapshot.window_ids(state))
        Agent.objects.filter(pk=agent.pk).update(memory_warning_sent=state["memory_warning_sent"],
                                                 memory_edited_at=snapshot.edited_at(state),
                                                 pending_turn=pending_turn(step))
        kept["marks"] = {"message": state["last_message_id"] or 0, "passage": state["last_passage_id"] or 0,
                         "revision": BlockRevision.objects.aggregate(last=Max("id"))["last"] or 0}
        rewind = Rewind.objects.create(agent=agent, step_id=step.pk, run_id=step.run_id, step_index=step.index,
                                       created_by=user, removed=kept, counts=preview.counts)
    rewind.preview = preview  # what went, for the answer to whoever asked
    agent.refresh_from_db()  # the caller's agent is the rewound one
    return rewind


# --- undo and confirm -----------------------------------------------------------------------------


def rewind_undo_refused(*, rewind: Rewind) -> str:
    """Why the rewind cannot be undone now ("" when it can)."""
    agent = rewind.agent
    if rewind.status != Rewind.Status.PENDING:
        return f"This rewind was {rewind.get_status_display().lower()} already."
    later = agent.rewinds.filter(pk__gt=rewind.pk).exclude(status=Rewind.Status.UNDONE).first()
    if later is not None:
        return (f"A later rewind (to before step {later.step_index} of run {later.run_id}) came after this one: "
                + ("undo that one first." if later.status == Rewind.Status.PENDING else "it was kept for good."))
    if _busy(agent):
        return BUSY.format(name=agent.name)
    marks = rewind.removed["marks"]
    blocks = BlockAttachment.objects.filter(agent=agent).values("block_id")
    if (Message.objects.filter(agent=agent, pk__gt=marks["message"]).exists()
            or Run.objects.filter(agent=agent, pk__gt=rewind.run_id).exists()
            or Passage.objects.filter(agent=agent, pk__gt=marks["passage"]).exists()
            or BlockRevision.objects.filter(block_id__in=blocks, pk__gt=marks["revision"]).exists()):
        return GONE_ON.format(name=agent.name)
    return ""


def _references_restore(references: list[dict]) -> None:
    for reference in references:
        model = apps.get_model(reference["model"])
        by_value: dict = {}
        for pk, value in reference["rows"]:
            by_value.setdefault(value, []).append(pk)
        for value, pks in by_value.items():
            model._base_manager.filter(pk__in=pks).update(**{reference["field"]: value})


def _blocks_put_back(agent: Agent, kept: dict, user) -> None:
    from agents.services import block_edit

    BlockAttachment.objects.filter(agent=agent).delete()
    for before in kept["blocks"]:
        fields = {name: value for name, value in before.items() if name != "id"}
        block_edit(block_id=before["id"], user=user, fields=fields, note="rewind undone")
    Block.objects.filter(pk__in=kept["created_blocks"]).exclude(
        pk__in=BlockAttachment.objects.values("block_id")).delete()
    rows_restore(BlockAttachment, kept["attachments"])


def rewind_undo(*, rewind: Rewind, user=None) -> Rewind:
    """Put back everything the rewind removed or changed, exactly: the same ids, times, vectors and flags.
    Refused (RewindRefused) once the agent has gone on since, or for any but its latest rewind."""
    with _turns_held(rewind.agent), transaction.atomic():
        rewind = Rewind.objects.select_for_update().get(pk=rewind.pk)
        agent = Agent.objects.select_for_update().get(pk=rewind.agent_id)
        if refused := rewind_undo_refused(rewind=rewind):
            raise RewindRefused(refused)
        kept = rewind.removed
        for name, model in (("runs", Run), ("steps", Step), ("messages", Message), ("passages", Passage)):
            rows_restore(model, kept[name])
        for cascaded in kept["cascaded"]:
            rows_restore(apps.get_model(cascaded["model"]), cascaded["rows"])
        _references_restore(kept["references"])
        _set_window(agent, kept["in_context"])
        _blocks_put_back(agent, kept, user)
        for wakeup in kept["wakeups"]:
            ScheduledMessage.objects.filter(pk=wakeup["id"]).update(
                status=wakeup["status"], next_run_at=parse_datetime(wakeup["next_run_at"] or ""),
                ended_at=parse_datetime(wakeup["ended_at"] or ""))
        fields = kept["agent"]
        Agent.objects.filter(pk=agent.pk).update(memory_warning_sent=fields["memory_warning_sent"],
                                                 memory_edited_at=parse_datetime(fields["memory_edited_at"] or ""),
                                                 pending_turn=fields["pending_turn"])
        milvus.passages_upsert_later(ids=[row["id"] for row in kept["passages"]])
        # those not embedded yet when they went (the embedding task found them gone)
        messages_embed_later(messages=list(Message.objects.filter(
            pk__in=[row["id"] for row in kept["messages"] if row.get("embedding") is None])))
        rewind.status, rewind.ended_at, rewind.removed = Rewind.Status.UNDONE, timezone.now(), {}
        rewind.save(update_fields=["status", "ended_at", "removed"])
    return rewind


def rewind_confirm(*, rewind: Rewind) -> Rewind:
    """What the rewind removed is gone for good: its kept rows are dropped."""
    if not Rewind.objects.filter(pk=rewind.pk, status=Rewind.Status.PENDING).update(
            status=Rewind.Status.CONFIRMED, removed={}, ended_at=timezone.now()):
        rewind.refresh_from_db()
        raise RewindRefused(f"This rewind was {rewind.get_status_display().lower()} already.")
    rewind.refresh_from_db()
    return rewind


def rewind_latest_pending(*, agent: Agent) -> Rewind | None:
    """The agent's newest rewind still kept for an undo, if any (the one the agent page offers to undo)."""
    return agent.rewinds.filter(status=Rewind.Status.PENDING).order_by("-id").defer("removed").first()
