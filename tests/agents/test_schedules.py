"""Scheduled wake-ups (agents/schedules.py): a real Celery beat process (`celery -A playground beat`,
as `up` starts it) sends them, a real worker queues their turns. The agent's schedule_wakeup tool,
the rules a wake-up must follow, and what happens to one whose worker was killed."""

import json
import threading
import time
from datetime import datetime, timedelta, timezone as dt_timezone

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from agents.engine.loop import Event
from agents.engine.tools import SCHEDULE_SCHEMAS, ToolContext, execute
from agents.engine.types import ScheduleRefused, ToolSpec
from agents.models import Run, ScheduledMessage, Tool
from agents.schedules import next_after, schedule_cancel, schedule_create, schedule_fire
from agents.services import agent_create, agent_delete, turn_enqueue
from memory.models import Message
from tests.agents.in_memory_store import InMemoryStore, make_state
from tests.factories import make_user
from tests.fake_llm import delay, tool_call
from tests.helpers import wait_for_runs, wait_until
from tests.live_stack import Beat

SCHEDULE_TOOL = ToolSpec("schedule_wakeup", SCHEDULE_SCHEMAS[0])
ON_TIME = timedelta(seconds=2)


@pytest.fixture
def beat(transactional_db, redis_available):
    """A beat process on the test database, sending to this process's worker (`celery_worker`)."""
    process = Beat(database=connection.settings_dict["NAME"], queue=settings.CELERY_TASK_DEFAULT_QUEUE,
                   logs=settings.DATA_DIR / "beat-logs")
    yield process
    process.stop()


def heartbeats(agent) -> list[str]:
    return list(Message.objects.filter(agent=agent, kind=Message.Kind.HEARTBEAT).order_by("id").values_list("content", flat=True))


# --- the tool, in the engine alone ------------------------------------------------------------------


def call(store: InMemoryStore, **arguments):
    ctx = ToolContext(state=store.state, store=store, step_id=7, page_size=5)
    return execute(ctx, "schedule_wakeup", json.dumps(arguments))


def test_the_tool_schedules_a_wakeup_and_says_when_it_comes():
    store = InMemoryStore(make_state(tools=[SCHEDULE_TOOL]))
    outcome = call(store, at="2026-11-21T13:00:00Z", reason="ask how the exam went", message="she was nervous",
                   request_heartbeat=False)
    assert outcome.status == "OK" and "first at 2026-11-21 13:00:00 UTC" in outcome.message
    outcome = call(store, every="1h30m", reason="check the news")
    assert outcome.status == "OK" and "then every 5400 seconds" in outcome.message
    assert store.wakeups == [
        {"at": datetime(2026, 11, 21, 13, tzinfo=dt_timezone.utc), "every_seconds": None, "reason": "ask how the exam went",
         "note": "she was nervous", "step_id": 7},
        {"at": None, "every_seconds": 5400, "reason": "check the news", "note": "", "step_id": 7}]


@pytest.mark.parametrize("arguments, error", [
    ({"reason": "x"}, "Say when: 'at'"),
    ({"at": "tomorrow", "reason": "x"}, "'at' must be an ISO 8601 time"),
    ({"every": "soon", "reason": "x"}, "Invalid 'every': 'soon' is not an interval"),
    ({"every": 0, "reason": "x"}, "more than 0 seconds"),
    ({"at": "2026-11-21T13:00:00Z"}, "missing required argument 'reason'"),
    ({"at": "2020-01-01T00:00:00Z", "reason": "x"}, "Not scheduled: 2020-01-01T00:00:00+00:00 is past"),
])
def test_a_bad_call_is_a_failed_result_that_says_what_is_wrong(arguments, error):
    store = InMemoryStore(make_state(tools=[SCHEDULE_TOOL]))
    outcome = call(store, **arguments)
    assert outcome.failed and error in outcome.message, outcome.message
    assert store.wakeups == []


def test_the_tool_is_offered_only_to_agents_given_it():
    outcome = call(InMemoryStore(make_state()), every="5m", reason="x")
    assert outcome.failed and "Unknown tool 'schedule_wakeup'" in outcome.message


def test_a_heartbeat_with_a_reason_tells_the_agent_the_reason(run, fake_llm):
    fake_llm.enqueue(tool_call("send_message", {"message": "Good morning!"}))
    result, store, _ = run(Event("heartbeat", "time to say good morning"))
    assert result.status == "completed"
    assert json.loads(store.messages[0].content)["reason"] == "time to say good morning"


# --- the rules, in the database ----------------------------------------------------------------------


@pytest.mark.django_db
def test_a_wakeup_must_be_in_the_future_not_too_frequent_and_not_one_too_many(settings):
    agent = agent_create(owner=make_user(), name="Sam")
    soon = timezone.now() + timedelta(hours=1)
    with pytest.raises(ScheduleRefused, match="is past"):
        schedule_create(agent=agent, kind="message", text="hi", at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(ScheduleRefused, match="an interval of 30s is too short: the shortest is 1m"):
        schedule_create(agent=agent, kind="heartbeat", text="x", every_seconds=30)
    with pytest.raises(ScheduleRefused, match="fires more often than every 2m"):
        settings.SCHEDULE_MIN_INTERVAL_SECONDS = 120
        schedule_create(agent=agent, kind="message", text="hi", cron="*/1 * * * *")
    with pytest.raises(ScheduleRefused, match="the message is empty"):
        schedule_create(agent=agent, kind="message", text="  ", at=soon)
    settings.SCHEDULES_MAX_PER_AGENT = 2
    made = [schedule_create(agent=agent, kind="message", text="hi", at=soon) for _ in range(2)]
    with pytest.raises(ScheduleRefused, match="holds 2 scheduled wake-ups already"):
        schedule_create(agent=agent, kind="heartbeat", text="x", at=soon)
    assert schedule_cancel(schedule=made[0]) and not schedule_cancel(schedule=made[0])
    schedule_create(agent=agent, kind="heartbeat", text="x", at=soon)  # a cancelled one does not count


@pytest.mark.django_db
def test_the_next_time_of_an_interval_keeps_its_beat_and_of_a_cron_is_in_utc():
    agent = agent_create(owner=make_user(), name="Sam")
    start = timezone.now() + timedelta(minutes=5)
    every = schedule_create(agent=agent, kind="heartbeat", text="x", at=start, every_seconds=600)
    assert every.next_run_at == start
    assert next_after(every, start + timedelta(seconds=1)) == start + timedelta(minutes=10)
    assert next_after(every, start + timedelta(minutes=35)) == start + timedelta(minutes=40)  # missed ones skipped
    daily = schedule_create(agent=agent, kind="message", text="hi", cron="@daily")
    assert daily.cron == "0 0 * * *"
    assert next_after(daily, datetime(2026, 3, 1, 23, 59, tzinfo=dt_timezone.utc)) == datetime(2026, 3, 2, tzinfo=dt_timezone.utc)


@pytest.mark.django_db
def test_a_wakeup_fires_once_and_not_at_all_when_its_agent_is_gone(llm):
    agent = agent_create(owner=make_user(), name="Sam")
    schedule = schedule_create(agent=agent, kind="message", text="hi", at=timezone.now() + timedelta(hours=1))
    due = schedule.next_run_at
    run = schedule_fire(schedule_id=schedule.pk, due=due)
    assert (run.trigger, run.input) == (Run.Trigger.USER_MESSAGE, "hi")
    assert schedule_fire(schedule_id=schedule.pk, due=due) is None  # sent twice: one turn
    schedule.refresh_from_db()
    assert (schedule.status, schedule.fired, schedule.next_run_at, schedule.last_run_id) == ("finished", 1, None, run.pk)
    gone = schedule_create(agent=agent, kind="heartbeat", text="x", at=due)
    agent_delete(agent=agent)
    assert schedule_fire(schedule_id=gone.pk, due=due) is None
    assert not ScheduledMessage.objects.filter(pk=gone.pk).exists()


# --- with a beat process and a worker ----------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_agents_own_wakeup_fires_within_two_seconds_of_its_time(llm, celery_worker, beat):
    agent = agent_create(owner=make_user(), name="Sam", tool_ids=[Tool.objects.get(name="schedule_wakeup").pk])
    at = (timezone.now() + timedelta(seconds=2)).replace(microsecond=0) + timedelta(seconds=1)
    llm.enqueue(tool_call("schedule_wakeup", {"at": at.isoformat(), "reason": "ask about the exam", "message": "she was nervous",
                                              "request_heartbeat": True}),
                tool_call("send_message", {"message": "I will ask you later."}),
                tool_call("send_message", {"message": "How did the exam go?"}))
    turn_enqueue(agent=agent, text="I have an exam at noon")
    first, woken = wait_for_runs(agent, 2, timeout=30)
    schedule = ScheduledMessage.objects.get(agent=agent)
    assert (schedule.actor, schedule.created_by_step.run_id, schedule.status) == ("agent", first.pk, "finished")
    assert woken.trigger == Run.Trigger.HEARTBEAT and woken.status == "completed"
    assert timedelta(0) <= woken.created_at - at < ON_TIME, woken.created_at - at
    reason = json.loads(heartbeats(agent)[-1])["reason"]
    assert "A wake-up you scheduled has come. Reason: ask about the exam." in reason and "she was nervous" in reason


@pytest.mark.django_db(transaction=True)
def test_a_recurring_wakeup_fires_again_and_again_and_stops_when_cancelled(llm, celery_worker, beat, settings):
    settings.SCHEDULE_MIN_INTERVAL_SECONDS = 1
    agent = agent_create(owner=make_user(), name="Sam")
    llm.responder = lambda request: tool_call("send_message", {"message": "tick"})
    schedule = schedule_create(agent=agent, kind="heartbeat", text="tick", every_seconds=1)
    wait_for_runs(agent, 3, timeout=20)
    schedule_cancel(schedule=schedule)
    fired = Run.objects.filter(agent=agent).count()
    time.sleep(2.5)
    assert Run.objects.filter(agent=agent).count() == fired
    schedule.refresh_from_db()
    assert schedule.status == "cancelled" and schedule.fired == fired
    runs = list(Run.objects.filter(agent=agent).order_by("id"))
    gaps = [(b.created_at - a.created_at).total_seconds() for a, b in zip(runs, runs[1:])]
    assert all(0.5 < gap < 1.5 for gap in gaps), gaps  # on its beat, not in a burst


@pytest.mark.django_db(transaction=True)
def test_one_beat_sends_and_another_takes_over_when_it_dies(llm, celery_worker, beat):
    second = Beat(database=connection.settings_dict["NAME"], queue=settings.CELERY_TASK_DEFAULT_QUEUE,
                  logs=settings.DATA_DIR / "beat-logs-second", standby=True)
    try:
        agent = agent_create(owner=make_user(), name="Sam")
        llm.responder = lambda request: tool_call("send_message", {"message": "awake"})
        first = schedule_create(agent=agent, kind="heartbeat", text="first", at=timezone.now() + timedelta(seconds=0.5))
        wait_for_runs(agent, 1, timeout=20)
        beat.kill()
        second.wait_for("wake-ups: this beat sends them")
        then = schedule_create(agent=agent, kind="heartbeat", text="then", at=timezone.now() + timedelta(seconds=0.5))
        wait_for_runs(agent, 2, timeout=20)
    finally:
        second.stop()
    assert f"wake-up {first.pk}, due" in beat.output() and f"wake-up {first.pk}, due" not in second.output()
    assert f"wake-up {then.pk}, due" in second.output()
    assert Run.objects.filter(agent=agent).count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_wakeup_that_comes_during_a_turn_waits_for_it(llm, celery_worker, beat):
    agent = agent_create(owner=make_user(), name="Sam")
    asked = threading.Event()

    def answer(request):
        if not asked.is_set():
            asked.set()
            return delay(3, tool_call("send_message", {"message": "a slow answer"}))
        return tool_call("send_message", {"message": "and the scheduled one"})

    llm.responder = answer
    turn_enqueue(agent=agent, text="think hard")
    assert asked.wait(20)
    schedule_create(agent=agent, kind="message", text="are you there?", at=timezone.now() + timedelta(seconds=1))
    slow, scheduled = wait_for_runs(agent, 2, timeout=30)
    assert scheduled.input == "are you there?" and scheduled.status == "completed"
    assert scheduled.created_at < slow.finished_at <= scheduled.started_at  # came during the turn, ran after it


@pytest.mark.django_db(transaction=True)
def test_wakeups_fire_on_time_after_the_worker_was_killed_and_started_again(live, live_llm):
    """The live stack's worker (a subprocess), SIGKILLed and started again: a wake-up that came due while
    it was away fires once when it is back, and the next one fires on time."""
    process = Beat(database=connection.settings_dict["NAME"], queue=live.queue, logs=settings.DATA_DIR / "beat-logs-live")
    try:
        live_llm.responder = lambda request: tool_call("send_message", {"message": "awake"})
        agent = agent_create(owner=make_user(), name="Sam")
        live.kill("worker")
        missed = schedule_create(agent=agent, kind="heartbeat", text="while the worker was away",
                                 at=timezone.now() + timedelta(seconds=0.5))
        wait_until(lambda: f"wake-up {missed.pk}, due" in process.output(), timeout=10, message="beat's send")
        live.restart("worker")
        wait_for_runs(agent, 1, timeout=30)
        at = timezone.now() + timedelta(seconds=1.5)
        schedule_create(agent=agent, kind="heartbeat", text="on time", at=at)
        runs = wait_for_runs(agent, 2, timeout=30)
    finally:
        process.stop()
    assert [r.input.rpartition("Reason: ")[2] for r in runs] == ["while the worker was away", "on time"]
    assert timedelta(0) <= runs[1].created_at - at < ON_TIME, runs[1].created_at - at
    missed.refresh_from_db()
    assert (missed.status, missed.fired) == ("finished", 1)
