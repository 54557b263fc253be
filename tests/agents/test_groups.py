"""Groups through a real Celery worker and the strict scripted LLM server: round robin, a supervisor
with two workers sharing a block, and sleep-time agents that reorganise their primary's memory."""

import json
import re

import pytest

from agents.groups import group_create, group_send, turn_finished
from agents.models import Group, Run
from agents.services import agent_create, turn_enqueue
from memory.models import Block, BlockRevision, Message
from memory.services import block_create
from tests.factories import make_user
from tests.fake_llm import error, tool_call
from tests.helpers import wait_for_runs, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def named(request: dict) -> str:
    return re.match(r"You are (.+?), a MemGPT agent", request["messages"][0]["content"])[1]


def packed(request: dict) -> dict:
    try:
        return json.loads(request["messages"][-1]["content"] or "")
    except ValueError:
        return {}


def say(text: str):
    return tool_call("send_message", {"message": text})


def agents(owner, *names: str):
    return [agent_create(owner=owner, name=name, persona=f"I am {name}.") for name in names]


def finished(turn, timeout: float = 60):
    return wait_until(lambda: turn_finished(turn) and turn, timeout=timeout, message="the group's turn")


def test_a_round_is_not_finished_while_the_next_members_run_is_being_queued():
    """The race a loaded machine showed: the last member's run queued between turn_finished's two questions."""
    from django.db import connection

    from agents.models import GroupTurn

    owner = make_user()
    ann, bob, cal = agents(owner, "Ann", "Bob", "Cal")
    group = group_create(owner=owner, kind="round_robin", members=[ann, bob, cal])
    turn = GroupTurn.objects.create(group=group, input="Roll call.")
    for agent, status in ((ann, Run.Status.COMPLETED), (bob, Run.Status.FAILED)):
        Run.objects.create(agent=agent, trigger=Run.Trigger.GROUP_MESSAGE, group_turn=turn, status=status)
    queued = []

    def cal_queued_meanwhile(execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if '"agents_run"' in sql and not queued:  # right after the first question about the runs
            queued.append(cal)
            Run.objects.create(agent=cal, trigger=Run.Trigger.GROUP_MESSAGE, group_turn=turn)
        return result

    with connection.execute_wrapper(cal_queued_meanwhile):
        assert not turn_finished(turn)
    assert queued


def test_round_robin_each_answers_in_turn_seeing_what_was_said_since_it_last_spoke(llm, celery_worker):
    owner = make_user()
    ann, bob = agents(owner, "Ann", "Bob")
    group = group_create(owner=owner, kind="round_robin", members=[ann, bob], description="pair", max_turns=3)
    heard = []

    def respond(request):
        heard.append((named(request), packed(request)["messages"]))
        return say(f"{named(request)} #{sum(1 for who, _ in heard if who == named(request))}")

    llm.responder = respond
    turn = finished(group_send(group=group, text="Plan a picnic."))

    runs = list(turn.runs.order_by("id"))
    assert [(r.agent.name, r.trigger, r.status) for r in runs] == [
        ("Ann", "group_message", "completed"), ("Bob", "group_message", "completed"), ("Ann", "group_message", "completed")]
    assert heard == [
        ("Ann", [{"from": "the person", "text": "Plan a picnic."}]),
        ("Bob", [{"from": "the person", "text": "Plan a picnic."}, {"from": f"Ann (agent-{ann.pk})", "text": "Ann #1"}]),
        ("Ann", [{"from": f"Bob (agent-{bob.pk})", "text": "Bob #1"}]),  # only what she has not heard
    ]
    assert packed(llm.chat_requests()[0])["group"] == "pair"
    shown = Message.objects.get(agent=bob, kind=Message.Kind.GROUP_MESSAGE)
    assert shown.text == f"the person: Plan a picnic.\n\nAnn (agent-{ann.pk}): Ann #1"
    assert llm.refused == []


def test_a_member_whose_turn_fails_does_not_stop_the_round(llm, celery_worker):
    owner = make_user()
    ann, bob, cal = agents(owner, "Ann", "Bob", "Cal")
    group = group_create(owner=owner, kind="round_robin", members=[ann, bob, cal])
    llm.responder = lambda r: error(400, "bad request") if named(r) == "Bob" else say(f"{named(r)} here")
    turn = finished(group_send(group=group, text="Roll call."))
    assert [r.status for r in turn.runs.order_by("id")] == ["completed", "failed", "completed"]
    said = packed(llm.chat_requests()[-1])["messages"]
    assert said[2]["from"] == f"Bob (agent-{bob.pk})" and said[2]["text"].startswith("(no answer: its turn failed")


def test_a_supervisor_hands_work_to_two_workers_sharing_a_block(llm, celery_worker):
    owner = make_user()
    boss, *workers = agents(owner, "Boss", "Wren", "Finch")
    board = block_create(owner=owner, label="board", value="Tasks done:", limit=500)
    group = group_create(owner=owner, kind="supervisor", members=workers, manager=boss, shared_blocks=[board],
                         description="research team")
    assert "send_message_to_all_agents_in_group" in boss.tools.values_list("name", flat=True)
    assert all(a.blocks.filter(pk=board.pk).exists() for a in [boss, *workers])

    def respond(request):
        name, last = named(request), packed(request)
        if name == "Boss":
            if last.get("type") == "heartbeat":
                result = next(m for m in reversed(request["messages"]) if m["role"] == "tool")
                replies = json.loads(json.loads(result["content"])["message"])
                return say("Done: " + "; ".join(r["reply"] for r in replies))
            return tool_call("send_message_to_all_agents_in_group", {"message": "Each of you: one fact about owls.",
                                                                     "request_heartbeat": True})
        if last.get("type") == "heartbeat":
            return say(f"{name}: owls fly silently")
        return tool_call("core_memory_append", {"label": "board", "content": f"- {name} did its part",
                                                "request_heartbeat": True})

    llm.responder = respond
    turn = finished(group_send(group=group, text="Find owl facts."))
    runs = list(turn.runs.order_by("id"))
    assert [r.agent.name for r in runs] == ["Boss", "Wren", "Finch"]
    assert {r.status for r in runs} == {"completed"}
    assert all(r.parent_run_id == runs[0].pk for r in runs[1:])
    board.refresh_from_db()
    assert sorted(board.value.splitlines()[1:]) == ["- Finch did its part", "- Wren did its part"]
    answer = Message.objects.filter(agent=boss, kind=Message.Kind.ASSISTANT).last()
    assert answer.text == "Done: Wren: owls fly silently; Finch: owls fly silently"
    assert llm.refused == []


def test_a_sleeptime_agent_reorganises_its_primarys_memory_every_n_turns(llm, celery_worker):
    owner = make_user()
    primary, sleeper = agents(owner, "Sam", "Dozer")
    group = group_create(owner=owner, kind="sleeptime", members=[sleeper], manager=primary, sleeptime_frequency=2)
    human = primary.blocks.get(label="human")
    assert sleeper.blocks.filter(pk=human.pk).exists()  # the primary's blocks are shared with it

    def respond(request):
        if named(request) == "Dozer":
            assert "Sam: noted" in packed(request)["messages"] and "I like jazz" in packed(request)["messages"]
            return tool_call("core_memory_append", {"label": "human", "content": "Likes jazz and tea."})
        return say("noted")

    llm.responder = respond
    turn_enqueue(agent=primary, text="I like jazz")
    wait_for_runs(primary)
    assert not Run.objects.filter(agent=sleeper).exists()  # one turn: not yet
    turn_enqueue(agent=primary, text="And tea")
    wait_for_runs(primary, 2)
    [run] = wait_for_runs(sleeper)
    assert (run.trigger, run.status, run.parent_run.agent_id) == ("sleeptime", "completed", primary.pk)
    human.refresh_from_db()
    assert human.value.endswith("Likes jazz and tea.")
    revision = BlockRevision.objects.filter(block=human).latest("id")
    assert revision.actor == "agent" and revision.step.agent_id == sleeper.pk
    group.refresh_from_db()
    assert group.turns_counter == 2 and group.last_processed_message_id == \
        Message.objects.filter(agent=primary, kind="assistant").latest("id").pk  # what it read up to


def test_a_sleeptime_agent_runs_after_a_quiet_period(llm, celery_worker):
    owner = make_user()
    primary, sleeper = agents(owner, "Sam", "Dozer")
    group_create(owner=owner, kind="sleeptime", members=[sleeper], manager=primary, sleeptime_quiet_seconds=1.0)
    llm.responder = lambda r: tool_call("core_memory_append", {"label": "human", "content": "Quiet fact."}) \
        if named(r) == "Dozer" else say("ok")
    turn_enqueue(agent=primary, text="remember me")
    wait_for_runs(primary)
    [run] = wait_for_runs(sleeper, timeout=20)
    assert run.status == "completed" and "Quiet fact." in Block.objects.get(pk=primary.blocks.get(label="human").pk).value


def test_a_group_is_made_of_the_owners_agents(db):
    owner = make_user()
    [ann] = agents(owner, "Ann")
    [stranger] = agents(make_user(), "Stranger")
    with pytest.raises(ValueError, match="your own agents"):
        group_create(owner=owner, kind="round_robin", members=[ann, stranger])
    with pytest.raises(ValueError, match="needs its manager"):
        group_create(owner=owner, kind="supervisor", members=[ann])
    with pytest.raises(ValueError, match="max_turns is between 1 and 50"):
        group_create(owner=owner, kind="round_robin", members=[ann], max_turns=51)
    assert not Group.objects.exists()
    group = group_create(owner=owner, kind="round_robin", members=[ann])
    ann.delete()  # its membership goes with it; the group stays, empty
    with pytest.raises(ValueError, match="no agents left"):
        group_send(group=group, text="anyone?")
