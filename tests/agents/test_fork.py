"""Forks on the real stack: an agent forked just before any step sends that step's request again,
byte for byte, and touches nothing of the original's."""

import json

import pytest

from agents.errors import HistoryMissing, NothingPending
from agents.history.fork import agent_fork, fork_differences
from agents.models import Run, Step
from agents.selectors import agent_context
from agents.services import agent_create, tool_update, turn_continue, turn_enqueue
from memory.models import Message, Passage
from tests.factories import make_user
from tests.fake_llm import text, tool_call
from tests.helpers import wait_for_runs

pytestmark = pytest.mark.django_db(transaction=True)
SUMMARY_MARK = "You maintain the long-term summary"


def chat_bodies(llm) -> list[bytes]:
    return [r["raw"] for r in llm.requests if r["path"] == "/v1/chat/completions"]


@pytest.fixture
def agent(db):
    return agent_create(owner=make_user(), name="Sam", persona="I am Sam.", human="")


def two_turns(agent, llm):
    """Turn 1 edits the human block, inserts a passage, answers; turn 2 does both again, differently."""
    llm.enqueue(
        tool_call("core_memory_append", {"label": "human", "content": "Name: Ada", "request_heartbeat": True},
                  content="She told me her name."),
        tool_call("archival_memory_insert", {"content": "Ada likes owls.", "request_heartbeat": True}),
        tool_call("send_message", {"message": "Hello Ada!"}),
        tool_call("core_memory_replace", {"label": "human", "old_content": "Ada", "new_content": "Ada Lovelace",
                                          "request_heartbeat": True}),
        tool_call("archival_memory_insert", {"content": "Ada wrote the first program.", "request_heartbeat": True}),
        tool_call("send_message", {"message": "Noted."}),
    )
    turn_enqueue(agent=agent, text="Hi, I'm Ada and I like owls")
    wait_for_runs(agent)
    turn_enqueue(agent=agent, text="My surname is Lovelace")
    return wait_for_runs(agent, 2)


def continue_fork(fork, llm, answer):
    llm.reset()
    llm.enqueue(answer)
    turn_continue(agent=fork)
    [run] = wait_for_runs(fork)
    assert run.status == Run.Status.COMPLETED, run.error
    return run


def test_a_fork_sends_the_step_request_again_byte_for_byte(agent, llm, celery_worker):
    runs = two_turns(agent, llm)
    sent = chat_bodies(llm)
    steps = list(Step.objects.filter(agent=agent).order_by("id"))
    # mid-turn, after a block edit, after an archival insert, and in the next turn
    for run, index in [(0, 0), (0, 1), (0, 2), (1, 0), (1, 2)]:
        step = Step.objects.get(run=runs[run], index=index)

        fork = agent_fork(step=step)

        assert fork.name == f"Sam (fork before step {index} of run {runs[run].pk})"
        assert fork_differences(fork=fork, step=step) == []
        continue_fork(fork, llm, tool_call("send_message", {"message": "A new answer."}))
        [again] = chat_bodies(llm)
        assert again == sent[steps.index(step)]
        # the fork's recall and archival memory are the original's as they were then, not more
        assert Message.objects.filter(agent=fork).count() == step.state["recall_count"] + 2  # + the answer, its result
        assert Passage.objects.filter(agent=fork).count() == step.state["archival_count"]
        fork.refresh_from_db()
        assert fork.pending_turn is None  # taken up


def test_the_fork_writes_only_its_own_memory(agent, llm, celery_worker):
    runs = two_turns(agent, llm)
    human = agent.blocks.get(label="human")
    recall = list(Message.objects.filter(agent=agent).values_list("id", "content", "in_context"))
    fork = agent_fork(step=Step.objects.get(run=runs[1], index=0))
    assert fork.blocks.get(label="human").value == "Name: Ada"  # before turn 2 replaced it
    assert list(Passage.objects.filter(agent=fork).values_list("text", flat=True)) == ["Ada likes owls."]

    continue_fork(fork, llm, tool_call("core_memory_append", {"label": "human", "content": "Forked.",
                                                              "request_heartbeat": False}))
    human.refresh_from_db()
    assert human.value == "Name: Ada Lovelace"
    assert fork.blocks.get(label="human").value == "Name: Ada\nForked."
    assert list(Message.objects.filter(agent=agent).values_list("id", "content", "in_context")) == recall


def test_a_fork_after_a_summary_keeps_the_window_apart_from_recall(llm, celery_worker):
    agent = agent_create(owner=make_user(), name="Sam", persona="I am Sam.", human="")
    baseline = agent_context(agent=agent).prompt_tokens
    agent.context_window, agent.completion_reserve = baseline + 1500, 200
    agent.save()

    def answer(request):
        if SUMMARY_MARK in request["messages"][0]["content"]:
            return text("The user told me facts about zebras.")
        return tool_call("send_message", {"message": "Noted."})

    llm.responder = answer
    for i in range(14):
        turn_enqueue(agent=agent, text=f"Fact {i} about zebras: " + "stripes and savanna grass " * 25)
        wait_for_runs(agent, i + 1)
        if Message.objects.filter(agent=agent, kind="summary").exists():
            break
    turn_enqueue(agent=agent, text="One more fact.")
    runs = wait_for_runs(agent, i + 2)
    step = Step.objects.get(run=runs[-1], purpose="agent")
    original = chat_bodies(llm)[-1]
    assert step.state["summary_id"] is not None

    fork = agent_fork(step=step)
    assert Message.objects.filter(agent=fork, in_context=False).exists()  # evicted, still in recall memory
    llm.responder = None
    continue_fork(fork, llm, tool_call("send_message", {"message": "Again."}))
    assert chat_bodies(llm) == [original]


def test_a_fork_names_what_changed_since_the_step(agent, llm, celery_worker):
    from agents.services import tool_create

    tool = tool_create(owner=agent.owner, source_code='def roll(sides: int) -> int:\n    """Roll a die.\n\n    '
                                                      'Args:\n        sides: how many sides\n    """\n    return 4\n')
    agent.tools.add(tool)
    llm.enqueue(tool_call("send_message", {"message": "Hi"}))
    turn_enqueue(agent=agent, text="hello")
    [run] = wait_for_runs(agent)
    tool_update(tool=tool, description="Roll a fair die.")

    differences = fork_differences(fork=agent_fork(step=run.steps.get()), step=run.steps.get())

    assert len(differences) == 1 and "Roll a fair die." in differences[0] and differences[0].startswith(".tools[")


def test_steps_without_state_and_agents_without_a_pending_step_are_refused(agent, llm, celery_worker):
    llm.enqueue(tool_call("send_message", {"message": "Hi"}))
    turn_enqueue(agent=agent, text="hello")
    [run] = wait_for_runs(agent)
    Step.objects.filter(run=run).update(state={})
    with pytest.raises(HistoryMissing):
        agent_fork(step=run.steps.get())
    with pytest.raises(NothingPending):
        turn_continue(agent=agent)
    assert json.dumps(run.steps.get().request)  # the step itself is kept as it was
