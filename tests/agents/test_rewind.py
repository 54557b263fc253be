"""Rewinds on the real stack: an agent returned to just before any of its steps sends that step's
request again byte for byte; what went is listed beforehand, kept, and comes back exactly on undo."""

import pytest

from agents.errors import HistoryMissing, RewindRefused
from agents.history.differences import request_differences
from agents.history.fork import agent_fork, next_request
from agents.history.rewind import agent_rewind, rewind_confirm, rewind_preview, rewind_undo
from agents.history.rows import rows_dump
from agents.models import Agent, Rewind, Run, ScheduledMessage, Step, StepReplay, Tool
from agents.services import agent_create, block_attach, turn_continue, turn_enqueue
from memory.models import Block, BlockAttachment, BlockRevision, Message, Passage
from tests.factories import make_run, make_user
from tests.fake_llm import tool_call
from tests.helpers import wait_for_runs, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def chat_bodies(llm) -> list[bytes]:
    return [r["raw"] for r in llm.requests if r["path"] == "/v1/chat/completions"]


@pytest.fixture
def agent(db):
    agent = agent_create(owner=make_user(), name="Sam", persona="I am Sam.", human="")
    agent.tools.add(Tool.objects.get(kind=Tool.Kind.BUILTIN, name="schedule_wakeup"))
    return agent


def two_turns(agent, llm):
    """Turn 1 edits the human block, inserts a passage, answers; turn 2 edits, inserts, schedules a
    wake-up and answers."""
    llm.enqueue(
        tool_call("core_memory_append", {"label": "human", "content": "Name: Ada", "request_heartbeat": True},
                  content="She told me her name."),
        tool_call("archival_memory_insert", {"content": "Ada likes owls.", "request_heartbeat": True}),
        tool_call("send_message", {"message": "Hello Ada!"}),
        tool_call("core_memory_replace", {"label": "human", "old_content": "Ada", "new_content": "Ada Lovelace",
                                          "request_heartbeat": True}),
        tool_call("archival_memory_insert", {"content": "Ada wrote the first program.", "request_heartbeat": True}),
        tool_call("schedule_wakeup", {"at": "2099-01-01T09:00:00Z", "reason": "ask about the engine",
                                      "request_heartbeat": True}),
        tool_call("send_message", {"message": "Noted."}),
    )
    turn_enqueue(agent=agent, text="Hi, I'm Ada and I like owls")
    wait_for_runs(agent)
    turn_enqueue(agent=agent, text="My surname is Lovelace")
    runs = wait_for_runs(agent, 2)
    assert [r.status for r in runs] == ["completed", "completed"], [r.error for r in runs]
    # recall search embeds messages in the background: let it finish, so that rows stand still
    wait_until(lambda: not Message.objects.filter(agent=agent, kind__in=["user_message", "assistant"], embedding=None)
               .exclude(text="").exists(), message="messages embedded")
    return runs


def everything(agent) -> dict:
    """Every row and value a rewind touches, in full."""
    agent.refresh_from_db()
    blocks = Block.objects.filter(pk__in=BlockAttachment.objects.filter(agent=agent).values("block_id"))
    return {
        "agent": rows_dump(Agent, ids=[agent.pk]),
        "messages": rows_dump(Message, ids=Message.objects.filter(agent=agent).values_list("pk", flat=True)),
        "passages": rows_dump(Passage, ids=Passage.objects.filter(agent=agent).values_list("pk", flat=True)),
        "runs": rows_dump(Run, ids=Run.objects.filter(agent=agent).values_list("pk", flat=True)),
        "steps": rows_dump(Step, ids=Step.objects.filter(agent=agent).values_list("pk", flat=True)),
        "attachments": rows_dump(BlockAttachment, ids=BlockAttachment.objects.filter(agent=agent).values_list("pk", flat=True)),
        "blocks": list(blocks.order_by("id").values("id", "label", "value", "limit", "description", "read_only")),
        "revision_steps": list(BlockRevision.objects.filter(block__in=blocks).order_by("id").values_list("id", "step_id")),
        "wakeups": list(ScheduledMessage.objects.filter(agent=agent).order_by("id").values()),
    }


def test_the_preview_lists_exactly_what_goes(agent, llm, celery_worker):
    runs = two_turns(agent, llm)
    step = Step.objects.get(run=runs[1], index=0)
    human = agent.blocks.get(label="human")

    preview = rewind_preview(agent=agent, step=step)

    user_message = Message.objects.get(run=runs[1], kind="user_message")
    after = Message.objects.filter(agent=agent, run=runs[1]).exclude(pk=user_message.pk)
    assert [m["id"] for m in preview.messages] == list(after.order_by("id").values_list("pk", flat=True))
    assert [p["text"] for p in preview.passages] == ["Ada wrote the first program."]
    assert [(e["label"], e["before"], e["after"]) for e in preview.block_edits] == [
        ("human", "Name: Ada", "Name: Ada Lovelace")]
    assert [(b["label"], b["now"], b["after"], b["changed"]) for b in preview.blocks if b["id"] == human.pk] == [
        ("human", "Name: Ada Lovelace", "Name: Ada", True)]
    assert preview.runs == [] and [(s["run_id"], s["index"]) for s in preview.steps] == [(runs[1].pk, i) for i in range(4)]
    assert [w["text"] for w in preview.wakeups] == ["ask about the engine"]
    assert [m["id"] for m in preview.window][-1] == user_message.pk
    assert preview.warnings == [] and preview.refused == ""
    assert preview.counts == {"messages": after.count(), "block_edits": 1, "passages": 1, "runs": 0, "steps": 4,
                              "wakeups": 1}


@pytest.mark.parametrize("at", [(0, 1), (1, 0), (1, 3)])
def test_after_a_rewind_the_step_is_made_again_byte_for_byte(agent, llm, celery_worker, at):
    runs = two_turns(agent, llm)
    steps = list(Step.objects.filter(agent=agent).order_by("id"))
    step = Step.objects.get(run=runs[at[0]], index=at[1])
    original = chat_bodies(llm)[steps.index(step)]

    rewind = agent_rewind(agent=agent, step=step, user=agent.owner)

    agent.refresh_from_db()
    assert request_differences(step.request, next_request(agent)) == []
    assert agent.pending_turn == {"step_id": step.pk, "run_id": step.run_id, "index": step.index,
                                  "steps": step.state["turn"]["steps"], "called": step.state["turn"]["called"]}
    assert not Step.objects.filter(pk=step.pk).exists() and Run.objects.filter(pk=step.run_id).exists()
    assert rewind.counts["steps"] == len(steps) - steps.index(step)
    assert Message.objects.filter(agent=agent).count() == step.state["recall_count"]
    llm.reset()
    llm.enqueue(tool_call("send_message", {"message": "A new answer."}))
    turn_continue(agent=agent)
    wait_for_runs(agent, len(Run.objects.filter(agent=agent)))
    assert chat_bodies(llm) == [original]


def test_undo_puts_back_everything_exactly(agent, llm, celery_worker):
    runs = two_turns(agent, llm)
    later = Step.objects.get(run=runs[1], index=2)
    fork = agent_fork(step=later)  # rows of others that point at a step that goes
    replay = StepReplay.objects.create(step=later, changes={"temperature": 0.1}, status="done", response={"x": 1})
    before, replay_row = everything(agent), rows_dump(StepReplay, ids=[replay.pk])
    wakeup = ScheduledMessage.objects.get(agent=agent)
    rewind = agent_rewind(agent=agent, step=Step.objects.get(run=runs[0], index=1), user=agent.owner)

    assert Run.objects.filter(agent=agent).count() == 1 and Passage.objects.filter(agent=agent).count() == 0
    assert not StepReplay.objects.filter(pk=replay.pk).exists()
    assert Agent.objects.get(pk=fork.pk).forked_from_id is None
    assert agent.blocks.get(label="human").value == "Name: Ada"
    assert ScheduledMessage.objects.get(pk=wakeup.pk).status == "cancelled"
    revision = BlockRevision.objects.filter(block__label="human", block__agents=agent).order_by("-id").first()
    assert (revision.actor, revision.user, revision.after) == ("user", agent.owner, {"value": "Name: Ada"})
    assert revision.note == f"rewind to before step 1 of run {runs[0].pk}"  # the block's history says why
    assert rewind.removed["messages"][0]["embedding"] is None or isinstance(rewind.removed["messages"][0]["embedding"], list)

    rewind_undo(rewind=rewind, user=agent.owner)

    assert BlockRevision.objects.filter(block__label="human", block__agents=agent).order_by("-id")[0].note == "rewind undone"
    after = everything(agent)
    kept = after["revision_steps"][:len(before["revision_steps"])]
    assert kept == before["revision_steps"]  # the revisions the steps made name their steps again
    # the rewind and its undo are revisions by the person, on top
    assert [r[1] for r in after.pop("revision_steps")[len(kept):]] == [None, None]
    before.pop("revision_steps")
    assert after == before
    assert rows_dump(StepReplay, ids=[replay.pk]) == replay_row and replay_row[0]["response"] == {"x": 1}
    assert Agent.objects.get(pk=fork.pk).forked_from_id == later.pk
    rewind.refresh_from_db()
    assert (rewind.status, rewind.removed) == ("undone", {})


def test_undo_is_refused_once_the_agent_went_on(agent, llm, celery_worker):
    runs = two_turns(agent, llm)
    rewind = agent_rewind(agent=agent, step=Step.objects.get(run=runs[1], index=0), user=agent.owner)
    llm.enqueue(tool_call("send_message", {"message": "Again."}))
    turn_continue(agent=agent)
    assert wait_for_runs(agent, 3)[-1].trigger == "continue"

    with pytest.raises(RewindRefused, match="fork the agent"):
        rewind_undo(rewind=rewind, user=agent.owner)
    assert Rewind.objects.get(pk=rewind.pk).status == "pending"


def test_only_the_latest_rewind_is_undone_and_confirm_drops_what_went(agent, llm, celery_worker):
    runs = two_turns(agent, llm)
    first = agent_rewind(agent=agent, step=Step.objects.get(run=runs[1], index=1), user=agent.owner)
    second = agent_rewind(agent=agent, step=Step.objects.get(run=runs[0], index=0), user=agent.owner)
    with pytest.raises(RewindRefused, match="undo that one first"):
        rewind_undo(rewind=first, user=agent.owner)
    rewind_undo(rewind=second, user=agent.owner)
    assert Run.objects.filter(agent=agent).count() == 2 and Step.objects.filter(run=runs[1]).count() == 1

    confirmed = rewind_confirm(rewind=first)

    assert (confirmed.status, confirmed.removed) == ("confirmed", {})
    assert confirmed.counts["passages"] == 1 and confirmed.ended_at is not None
    with pytest.raises(RewindRefused):
        rewind_undo(rewind=first, user=agent.owner)
    with pytest.raises(RewindRefused):
        rewind_confirm(rewind=first)


def test_a_rewind_is_refused_while_a_run_is_unfinished_and_for_others_steps(agent, llm, celery_worker):
    runs = two_turns(agent, llm)
    step = Step.objects.get(run=runs[1], index=0)
    llm.enqueue(tool_call("send_message", {"message": "Hello again."}))
    queued = make_run(agent, status=Run.Status.QUEUED)  # no task for it: queued until someone kicks the runner

    assert "queued or under way" in rewind_preview(agent=agent, step=step).refused
    with pytest.raises(RewindRefused, match="queued or under way"):
        agent_rewind(agent=agent, step=step, user=agent.owner)
    other = agent_create(owner=agent.owner, name="Other")
    with pytest.raises(RewindRefused, match="not a step of Other"):
        agent_rewind(agent=other, step=step, user=agent.owner)
    Step.objects.filter(pk=step.pk).update(state={})
    with pytest.raises(HistoryMissing):
        rewind_preview(agent=agent, step=Step.objects.get(pk=step.pk))
    assert Message.objects.filter(run=runs[1]).count() > 1  # nothing moved
    # the refused rewind held the turn lock a moment: the queued run is taken up after it let go
    assert wait_for_runs(agent, 3)[-1] == queued


def test_a_shared_block_is_named_and_changes_for_its_other_agents_too(agent, llm, celery_worker):
    human = agent.blocks.get(label="human")
    friend = agent_create(owner=agent.owner, name="Friend", blocks=[])
    block_attach(block=human, agent=friend)
    runs = two_turns(agent, llm)

    preview = rewind_preview(agent=agent, step=Step.objects.get(run=runs[0], index=0))
    assert "The block 'human' is shared with Friend: rewinding changes it for them too." in preview.warnings

    agent_rewind(agent=agent, step=Step.objects.get(run=runs[0], index=0), user=agent.owner)
    assert friend.blocks.get(label="human").value == ""


def test_blocks_attached_or_taken_out_since_are_put_as_they_were_and_back(agent, llm, celery_worker):
    from agents.services import block_detach
    from memory.services import block_create

    runs = two_turns(agent, llm)
    step = Step.objects.get(run=runs[1], index=1)
    block_attach(block=block_create(owner=agent.owner, label="notes", value="later"), agent=agent)
    block_detach(block=agent.blocks.get(label="persona"), agent=agent)
    before = everything(agent)

    preview = rewind_preview(agent=agent, step=step)
    assert any("'notes' was added to core memory since" in w for w in preview.warnings)
    assert any("'persona' was taken out of core memory since" in w for w in preview.warnings)
    rewind = agent_rewind(agent=agent, step=step, user=agent.owner)

    assert request_differences(step.request, next_request(agent)) == []
    assert list(BlockAttachment.objects.filter(agent=agent).order_by("position").values_list("label", flat=True)) == [
        "persona", "human"]
    rewind_undo(rewind=rewind, user=agent.owner)
    after = everything(agent)
    for rows in (before, after):
        rows.pop("revision_steps")
    assert after == before


def test_a_rewind_past_a_summary_brings_the_evicted_messages_back_into_the_window(llm, celery_worker):
    from agents.selectors import agent_context
    from tests.fake_llm import text

    agent = agent_create(owner=make_user(), name="Sam", persona="I am Sam.", human="")
    baseline = agent_context(agent=agent).prompt_tokens
    agent.context_window, agent.completion_reserve = baseline + 1500, 200
    agent.save()
    llm.responder = lambda request: (text("The user told me facts about zebras.")
                                     if "You maintain the long-term summary" in request["messages"][0]["content"]
                                     else tool_call("send_message", {"message": "Noted."}))
    for i in range(14):
        turn_enqueue(agent=agent, text=f"Fact {i} about zebras: " + "stripes and savanna grass " * 25)
        runs = wait_for_runs(agent, i + 1)
        if Message.objects.filter(agent=agent, kind="summary").exists():
            break
    assert Message.objects.filter(agent=agent, kind="summary", in_context=True).exists()
    assert Message.objects.filter(agent=agent, in_context=False).exists()  # evicted
    step = Step.objects.get(run=runs[-2], purpose="agent")  # the turn before the summary
    window = list(Message.objects.filter(agent=agent, in_context=True).values_list("pk", flat=True))

    rewind = agent_rewind(agent=agent, step=step, user=agent.owner)

    assert not Message.objects.filter(agent=agent, kind="summary").exists()
    assert not Message.objects.filter(agent=agent, in_context=False).exists()  # all back in the window
    assert request_differences(step.request, next_request(agent)) == []
    rewind_undo(rewind=rewind, user=agent.owner)
    assert list(Message.objects.filter(agent=agent, in_context=True).values_list("pk", flat=True)) == window
