"""LLM faults through the real worker: a rate limit with Retry-After, server errors, a stream cut in
the middle of a tool call, a chunk that is not JSON, an answer far past max_tokens, a server that
stalls. Each turn either goes on after a retry or fails with a clear error, keeps nothing half-done,
and the agent answers its next message."""

import pytest

from agents.services import agent_create, turn_enqueue
from memory.models import Message
from tests.factories import make_user
from tests.fake_llm import cut, delay, error, raw_stream, rate_limited, tool_call
from tests.helpers import wait_for_runs

OK = tool_call("send_message", {"message": "All good."})
CALL = tool_call("core_memory_append", {"label": "human", "content": "Likes tea", "request_heartbeat": True})


@pytest.fixture
def agent(llm, celery_worker):
    return agent_create(owner=make_user(), name="Sam", persona="I am Sam.", human="")


def answers_next(agent, llm, count: int) -> None:
    llm.enqueue(tool_call("send_message", {"message": "Back."}))
    turn_enqueue(agent=agent, text="are you there?")
    run = wait_for_runs(agent, count)[-1]
    assert (run.status, run.stop_reason) == ("completed", "end_turn"), run.error
    assert llm.refused == []


@pytest.mark.parametrize("fault", [
    pytest.param([rate_limited("1")], id="429 with Retry-After"),
    pytest.param([error(503, "overloaded"), error(502, "bad gateway")], id="5xx twice"),
    pytest.param([cut(CALL, 3)], id="stream cut mid-tool-call"),
    pytest.param([raw_stream('data: {"choices": [{"delta": {"content": "hi"\n\n')], id="chunk not JSON"),
])
def test_a_fault_is_retried_and_the_turn_goes_on(agent, llm, fault):
    llm.enqueue(*fault, OK)
    turn_enqueue(agent=agent, text="hi")
    [run] = wait_for_runs(agent)
    assert (run.status, run.stop_reason) == ("completed", "end_turn"), run.error
    steps = list(run.steps.order_by("index"))
    assert [bool(s.error) for s in steps] == [True] * len(fault) + [False]
    if fault[0].headers:  # waited as long as the server asked
        assert (steps[1].created_at - steps[0].created_at).total_seconds() >= 1
    # nothing of a cut answer was kept: the one assistant message is the good answer
    assert list(Message.objects.filter(run=run, role="assistant").values_list("text", flat=True)) == ["All good."]
    answers_next(agent, llm, 2)


def test_an_answer_far_past_max_tokens_fails_the_turn_clearly(agent, llm):
    llm.enqueue(tool_call("send_message", {"message": "x" * 500_000}))
    turn_enqueue(agent=agent, text="hi")
    [run] = wait_for_runs(agent)
    assert run.status == "failed" and "more than max_tokens allows" in run.error
    assert not Message.objects.filter(run=run, role="assistant").exists()
    answers_next(agent, llm, 2)


def test_a_retry_after_longer_than_a_turn_may_wait_fails_at_once(agent, llm):
    llm.enqueue(rate_limited("3600"))
    turn_enqueue(agent=agent, text="hi")
    [run] = wait_for_runs(agent)
    assert run.status == "failed" and "429" in run.error
    assert run.steps.count() == 1
    answers_next(agent, llm, 2)


def test_a_stalled_server_times_out_and_the_retry_answers(agent, llm, settings):
    import agents.llm

    settings.LLM_TIMEOUT = 1.0
    agents.llm._clients.clear()
    llm.enqueue(delay(3, OK), OK)
    turn_enqueue(agent=agent, text="hi")
    [run] = wait_for_runs(agent)
    assert (run.status, run.stop_reason) == ("completed", "end_turn"), run.error
    assert "timed out" in run.steps.order_by("index").first().error.lower()
    answers_next(agent, llm, 2)
