"""Agents messaging agents, through a real Celery worker, against the strict scripted LLM server: a
wait suspends the waiting run, the reply resumes it; cycles, limits and strangers are refused."""

import json
import re
import time

import pytest
from celery.contrib.testing.worker import start_worker
from django.conf import settings

from agents.messaging import agent_id
from agents.models import Run, Step
from agents.services import agent_create, runs_cancel, runs_sweep, turn_enqueue
from memory.models import Message
from tests.factories import make_user
from tests.fake_llm import delay, tool_call
from tests.helpers import wait_for_runs, wait_until

pytestmark = pytest.mark.django_db(transaction=True)
WAIT = "send_message_to_agent_and_wait_for_reply"


def named(request: dict) -> str:
    """The agent a request is for, from its system prompt."""
    return re.match(r"You are (.+?), a MemGPT agent", request["messages"][0]["content"])[1]


def last(request: dict) -> dict:
    return request["messages"][-1]


def say(text: str):
    return tool_call("send_message", {"message": text})


def answered(request: dict) -> bool:
    """Whether the request is a heartbeat's, after a tool result (the agent is to act on it)."""
    return '"type": "heartbeat"' in (last(request)["content"] or "")


def agents(owner, *names: str, tags=None, messaging=True):
    return [agent_create(owner=owner, name=name, tags=tags or [], include_multi_agent_tools=messaging) for name in names]


def tool_results(agent, name: str) -> list[Message]:
    return list(Message.objects.filter(agent=agent, kind=Message.Kind.TOOL_RESULT, name=name).order_by("id"))


def finished(*agents, count: int = 1) -> list[Run]:
    return [run for agent in agents for run in wait_for_runs(agent, count)]


def test_an_agent_waits_for_anothers_reply_without_holding_a_worker(llm, celery_worker):
    ann, bob = agents(make_user(), "Ann", "Bob")

    def respond(request):
        if named(request) == "Bob":
            return say("Four.")
        if answered(request):
            result = next(m for m in reversed(request["messages"]) if m["role"] == "tool")
            return say(f"Bob says: {json.loads(result['content'])['message']}")
        return tool_call(WAIT, {"other_agent_id": agent_id(bob.pk), "message": "What is 2 + 2?", "request_heartbeat": True},
                         content="Ask Bob.")

    llm.responder = respond
    asked = turn_enqueue(agent=ann, text="Ask Bob what 2 + 2 is.")
    (ann_run,), (bob_run,) = finished(ann), finished(bob)

    assert ann_run.pk == asked.pk and ann_run.status == "completed" and ann_run.stop_reason == "end_turn"
    [result] = tool_results(ann, WAIT)
    assert json.loads(result.content)["status"] == "OK" and result.text == "Four."
    assert result.run_id == ann_run.pk
    # Bob's run knows the run, step and call that sent its message
    sent = Step.objects.get(run=ann_run, index=0)
    assert (bob_run.trigger, bob_run.parent_run_id, bob_run.parent_step_id, bob_run.awaited) == \
        ("agent_message", ann_run.pk, sent.pk, False)  # no longer awaited: its reply came
    assert bob_run.tool_call_id == sent.response["choices"][0]["message"]["tool_calls"][0]["id"]
    # Bob was told who wrote, and that the sender waits
    incoming = Message.objects.get(agent=bob, kind=Message.Kind.AGENT_MESSAGE)
    packed = json.loads(incoming.content)
    assert incoming.text == "What is 2 + 2?" and packed["sender"] == {"agent_id": agent_id(ann.pk), "name": "Ann"}
    assert "Ann waits for your answer" in packed["reply"]
    # the wait held nothing: Ann's run waited with a suspension, and went on in a second piece
    assert ann_run.suspension["waiting"][0]["runs"] == [bob_run.pk]
    assert Message.objects.filter(agent=ann, kind=Message.Kind.ASSISTANT).last().text == "Bob says: Four."
    assert llm.refused == [] and llm.unexpected == 0


def test_a_tag_broadcast_collects_every_reply(llm, celery_worker):
    owner = make_user()
    [boss] = agents(owner, "Boss")
    workers = agents(owner, "W1", "W2", "W3", tags=["worker", "eu"])
    agents(owner, "Idle", tags=["worker", "us"])  # matches match_all, not match_some

    def respond(request):
        if named(request).startswith("W"):
            return say(f"{named(request)} reporting")
        if answered(request):
            return say("All reported.")
        return tool_call("send_message_to_agents_matching_tags",
                         {"match_all": ["worker"], "match_some": ["eu", "asia"], "message": "Report!",
                          "request_heartbeat": True})

    llm.responder = respond
    turn_enqueue(agent=boss, text="Get reports.")
    runs = finished(boss, *workers)
    assert {r.status for r in runs} == {"completed"}
    [result] = tool_results(boss, "send_message_to_agents_matching_tags")
    assert json.loads(result.text) == [{"agent_id": agent_id(w.pk), "name": w.name, "reply": f"{w.name} reporting"}
                                       for w in workers]
    assert llm.refused == []


def test_a_wait_that_closes_a_cycle_is_refused_naming_it(llm, celery_worker):
    ann, bob, cal = agents(make_user(), "Ann", "Bob", "Cal")
    next_of = {"Ann": bob, "Bob": cal, "Cal": ann}

    def respond(request):
        if answered(request):
            return say("done")
        return tool_call(WAIT, {"other_agent_id": agent_id(next_of[named(request)].pk), "message": "pass it on",
                                "request_heartbeat": True})

    llm.responder = respond
    turn_enqueue(agent=ann, text="start")
    runs = finished(ann, bob, cal)
    assert [r.status for r in runs] == ["completed"] * 3
    [refused] = tool_results(cal, WAIT)
    assert json.loads(refused.content)["status"] == "Failed"
    cycle = f"Cal ({agent_id(cal.pk)}) → Ann ({agent_id(ann.pk)}) → Bob ({agent_id(bob.pk)}) → Cal ({agent_id(cal.pk)})"
    assert cycle in refused.text and "async" in refused.text
    assert not Run.objects.filter(agent=ann, trigger="agent_message").exists()  # nothing was sent to Ann
    assert [r.text for r in tool_results(bob, WAIT)] == ["done"] and [r.text for r in tool_results(ann, WAIT)] == ["done"]


def test_a_broadcast_past_the_fanout_limit_is_refused_naming_it(llm, celery_worker, settings):
    settings.AGENT_MESSAGE_MAX_FANOUT = 1
    ann, bob, cal = agents(make_user(), "Ann", "Bob", "Cal", tags=["team"])
    llm.responder = lambda r: say("ok") if answered(r) else tool_call(
        "send_message_to_agents_matching_tags", {"match_all": ["team"], "match_some": [], "message": "all of you",
                                                 "request_heartbeat": True})
    turn_enqueue(agent=ann, text="go")
    finished(ann)
    [result] = tool_results(ann, "send_message_to_agents_matching_tags")
    assert json.loads(result.content)["status"] == "Failed"
    # Ann is left out of her own broadcast: two agents
    assert "The message would reach 2 agents; one message reaches 1 at most (AGENT_MESSAGE_MAX_FANOUT)" in result.text
    assert not Run.objects.filter(agent__in=[bob, cal]).exists()


def test_a_message_past_the_depth_limit_is_refused_naming_the_chain(llm, celery_worker, settings):
    settings.AGENT_MESSAGE_MAX_DEPTH = 2
    ann, bob, cal = agents(make_user(), "Ann", "Bob", "Cal")
    next_of = {"Ann": bob, "Bob": cal}
    llm.responder = lambda r: say("ok") if answered(r) else tool_call(
        WAIT, {"other_agent_id": agent_id(next_of[named(r)].pk), "message": "deeper", "request_heartbeat": True})
    turn_enqueue(agent=ann, text="go")
    finished(ann, bob)
    [refused] = tool_results(bob, WAIT)
    assert json.loads(refused.content)["status"] == "Failed"
    assert (f"Messages between agents go 2 deep at most (AGENT_MESSAGE_MAX_DEPTH), and this one would be 3 deep: "
            f"Ann ({agent_id(ann.pk)}) → Bob ({agent_id(bob.pk)}) → Cal.") in refused.text
    assert not Run.objects.filter(agent=cal).exists()
    assert [r.text for r in tool_results(ann, WAIT)] == ["ok"]


def test_another_users_agent_cannot_be_reached(llm, celery_worker):
    [ann] = agents(make_user(), "Ann")
    [stranger] = agents(make_user(), "Stranger", tags=["team"])

    def respond(request):
        if answered(request):
            return say("ok")
        if "tags" in last(request)["content"]:
            return tool_call("send_message_to_agents_matching_tags", {"match_all": ["team"], "match_some": [],
                                                                      "message": "hi", "request_heartbeat": True})
        return tool_call(WAIT, {"other_agent_id": agent_id(stranger.pk), "message": "hi", "request_heartbeat": True})

    llm.responder = respond
    turn_enqueue(agent=ann, text="by id")
    finished(ann)
    turn_enqueue(agent=ann, text="by tags")
    finished(ann, count=2)
    [by_id] = tool_results(ann, WAIT)
    assert json.loads(by_id.content)["status"] == "Failed"
    assert f"No agent '{agent_id(stranger.pk)}' that you can reach" in by_id.text
    [by_tags] = tool_results(ann, "send_message_to_agents_matching_tags")
    assert by_tags.text.startswith("No other agent has all of ['team']")
    assert not Run.objects.filter(agent=stranger).exists()


def test_an_async_message_does_not_wait_and_tells_the_recipient_how_to_answer(llm, celery_worker):
    ann, bob = agents(make_user(), "Ann", "Bob")

    def respond(request):
        if named(request) == "Bob":
            return say("noted")
        if answered(request):
            return say("sent")
        return tool_call("send_message_to_agent_async", {"other_agent_id": "Bob", "message": "FYI", "request_heartbeat": True})

    llm.responder = respond
    turn_enqueue(agent=ann, text="tell Bob")
    (ann_run,), (bob_run,) = finished(ann), finished(bob)
    [result] = tool_results(ann, "send_message_to_agent_async")
    assert result.text.startswith(f"Message sent to Bob ({agent_id(bob.pk)})")
    assert (bob_run.parent_run_id, bob_run.awaited) == (ann_run.pk, False)
    assert ann_run.suspension is None
    packed = json.loads(Message.objects.get(agent=bob, kind=Message.Kind.AGENT_MESSAGE).content)
    assert f"send_message_to_agent_async with other_agent_id '{agent_id(ann.pk)}'" in packed["reply"]


def test_a_reply_that_does_not_come_in_time_ends_the_wait(llm, celery_worker, settings):
    settings.AGENT_REPLY_TIMEOUT_SECONDS = 1.0
    ann, bob = agents(make_user(), "Ann", "Bob")

    def respond(request):
        if named(request) == "Bob":
            return delay(4, say("too late"))
        if answered(request):
            return say("gave up")
        return tool_call(WAIT, {"other_agent_id": agent_id(bob.pk), "message": "slow?", "request_heartbeat": True})

    llm.responder = respond
    started = time.monotonic()
    turn_enqueue(agent=ann, text="ask")
    [ann_run] = finished(ann)
    assert time.monotonic() - started < 3.5  # ended by its time-out, not by Bob's answer
    [result] = tool_results(ann, WAIT)
    assert json.loads(result.content)["status"] == "Failed"
    assert result.text == "Bob: No reply within 1 s (AGENT_REPLY_TIMEOUT_SECONDS). Its turn goes on, but its answer " \
                          "will not reach you."
    [bob_run] = finished(bob)
    assert bob_run.status == "completed" and not bob_run.awaited
    assert Run.objects.get(pk=ann_run.pk).status == "completed" and Run.objects.filter(agent=ann).count() == 1


def test_cancelling_a_waiting_run_answers_its_call_cancels_what_it_waits_for_and_the_agent_answers_next(llm, celery_worker):
    ann, bob = agents(make_user(), "Ann", "Bob")

    def respond(request):
        if named(request) == "Bob":  # two steps: the cancel comes during the first
            return say("late") if answered(request) else delay(2, tool_call(
                "core_memory_append", {"label": "human", "content": "busy", "request_heartbeat": True}))
        if answered(request):
            return say("after")
        if "second" in last(request)["content"]:
            return say("second answered")
        return tool_call(WAIT, {"other_agent_id": agent_id(bob.pk), "message": "hold", "request_heartbeat": True})

    llm.responder = respond
    run = turn_enqueue(agent=ann, text="first")
    wait_until(lambda: Run.objects.filter(pk=run.pk, status="waiting").exists(), timeout=20)
    wait_until(lambda: Run.objects.filter(agent=bob, status="running").exists(), timeout=20)  # in its first step
    assert runs_cancel(agent=ann) == {run.pk: "cancelling"}
    cancelled = wait_until(lambda: Run.objects.filter(pk=run.pk, status="cancelled").first(), timeout=20)
    assert cancelled.stop_reason == "cancelled"
    [result] = tool_results(ann, WAIT)
    assert result.text == "Bob: The wait was cancelled before it answered."
    bob_run = wait_until(lambda: Run.objects.filter(agent=bob, status__in=["cancelled", "completed"]).first(), timeout=20)
    assert (bob_run.status, bob_run.stop_reason) == ("cancelled", "cancelled")
    turn_enqueue(agent=ann, text="second")
    wait_until(lambda: Run.objects.filter(agent=ann, status="completed").exists(), timeout=20)
    assert llm.refused == []  # the waiting call had its result: the next request was valid


def test_twenty_agents_waiting_on_twenty_others_finish_with_two_worker_threads(llm, transactional_db, redis_available):
    from playground.celery import app

    owner = make_user()
    askers = agents(owner, *[f"Asker{i}" for i in range(20)])
    answerers = agents(owner, *[f"Answerer{i}" for i in range(20)], messaging=False)

    def respond(request):
        name = named(request)
        if name.startswith("Answerer"):
            return say(f"{name} here")
        if answered(request):
            return say("got it")
        partner = answerers[int(name.removeprefix("Asker"))]
        return tool_call(WAIT, {"other_agent_id": agent_id(partner.pk), "message": "you there?", "request_heartbeat": True})

    llm.responder = respond
    with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False, loglevel="WARNING",
                      queues=[settings.CELERY_TASK_DEFAULT_QUEUE]):
        for asker in askers:
            turn_enqueue(agent=asker, text="ask your partner")
        runs = [run for agent in askers + answerers for run in wait_for_runs(agent, timeout=120)]
    assert [r.status for r in runs] == ["completed"] * 40
    assert [tool_results(a, WAIT)[0].text for a in askers] == [f"Answerer{i} here" for i in range(20)]
    assert llm.refused == []


def test_the_sweep_resumes_a_wait_whose_wake_up_was_lost(llm, celery_worker, monkeypatch):
    from agents import messaging
    from agents.services import runs_stranded

    ann, bob = agents(make_user(), "Ann", "Bob")
    llm.responder = lambda r: delay(1, say("fine")) if named(r) == "Bob" else say("thanks") if answered(r) else tool_call(
        WAIT, {"other_agent_id": agent_id(bob.pk), "message": "?", "request_heartbeat": True})
    ended = messaging.run_ended
    monkeypatch.setattr(messaging, "run_ended", lambda run: None)  # Bob's end wakes nobody: the message is lost
    run = turn_enqueue(agent=ann, text="go")
    finished(bob)
    assert Run.objects.get(pk=run.pk).status == "waiting"
    assert Run.objects.get(pk=run.pk) in runs_stranded(requeue_after=3600)  # its reply is in
    monkeypatch.setattr(messaging, "run_ended", ended)
    assert runs_sweep(requeue_after=3600)["requeued"] == 1
    [ann_run] = finished(ann)
    assert ann_run.status == "completed" and [r.text for r in tool_results(ann, WAIT)] == ["fine"]
