"""How runs are scheduled: one agent's turns in order, different agents at once, interrupted turns reported."""

import threading

import pytest

from agents.llm import model_window
from agents.models import Run
from agents.services import INTERRUPTED, agent_create, turn_enqueue
from tests.factories import make_run, make_user
from tests.fake_llm import tool_call
from tests.helpers import wait_for_runs

pytestmark = pytest.mark.django_db(transaction=True)


def test_different_agents_run_at_the_same_time(llm, celery_worker):
    owner = make_user()
    first = agent_create(owner=owner, name="first")
    second = agent_create(owner=owner, name="second")
    second_arrived = threading.Event()
    overlapped = []

    def answer(request):
        said = request["messages"][-1]["content"]
        if "to first" in said:
            # hold the first agent's call until the second agent's call arrives: only parallel turns get there
            overlapped.append(second_arrived.wait(20))
        else:
            second_arrived.set()
        return tool_call("send_message", {"message": "ok"})

    llm.responder = answer
    turn_enqueue(agent=first, text="to first")
    turn_enqueue(agent=second, text="to second")
    assert [r.status for r in wait_for_runs(first) + wait_for_runs(second)] == ["completed", "completed"]
    assert overlapped == [True]


def test_a_turn_left_running_by_a_dead_worker_is_reported_failed_and_the_queue_goes_on(llm, celery_worker):
    agent = agent_create(owner=make_user(), name="Sam")
    stale = make_run(agent, input="lost", status=Run.Status.RUNNING)
    llm.enqueue(tool_call("send_message", {"message": "hello"}))
    turn_enqueue(agent=agent, text="hi")
    stale_run, run = wait_for_runs(agent, 2)
    assert (stale_run.pk, stale_run.status, stale_run.stop_reason) == (stale.pk, "failed", "error")
    assert stale_run.error == INTERRUPTED
    assert run.status == "completed"


def test_an_agent_window_cannot_exceed_its_models():
    assert model_window("openai/gpt-4o-mini-2024-07-18") == 128_000
    assert model_window("my-local-llama") is None
    with pytest.raises(ValueError, match="larger than gpt-4's own \\(8192\\)"):
        agent_create(owner=make_user(), name="big", model="gpt-4", context_window=32_000)
