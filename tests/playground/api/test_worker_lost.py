"""A worker killed in the middle of a turn (the live stack's, with SIGKILL): the next worker to start
reports the turn failed at once, and the agent answers its next message."""

import pytest

from agents.models import Run
from agents.services import INTERRUPTED
from tests.fake_llm import delay, tool_call
from tests.helpers import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_turn_cut_by_a_killed_worker_is_failed_when_a_worker_starts_and_the_agent_answers_again(api, live, live_llm):
    agent = api.sdk.agents.create(name="Sam", model="openai/gpt-4o-mini",
                                  memory_blocks=[{"label": "persona", "value": "I am Sam."}])
    live_llm.enqueue(delay(60, tool_call("send_message", {"message": "never sent"})))
    run = api.sdk.agents.messages.create_async(agent.id, input="one")
    wait_until(lambda: live_llm.chat_requests(), message="the turn's LLM call")  # the worker waits for the answer

    live.kill("worker")
    assert api.sdk.runs.retrieve(run.id).status == "running"  # nobody could say otherwise
    live.restart("worker")

    done = wait_until(lambda: (r := api.sdk.runs.retrieve(run.id)).status != "running" and r, timeout=30,
                      message="the interrupted run to be reported")
    assert (done.status, done.stop_reason) == ("failed", "error")
    assert Run.objects.get(pk=int(run.id.removeprefix("run-"))).error == INTERRUPTED
    live_llm.enqueue(tool_call("send_message", {"message": "Back."}))
    reply = api.sdk.agents.messages.create(agent.id, input="two")
    assert reply.stop_reason.stop_reason == "end_turn"
    assert [m.content for m in reply.messages if m.message_type == "assistant_message"] == ["Back."]
