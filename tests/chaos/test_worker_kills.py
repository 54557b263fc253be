"""The live stack's worker SIGKILLed in the middle of a turn, 12 times in a row, at varied moments:
while it waits for an LLM answer (before the first step, after one step, after two), and at random
moments of a turn that runs flat out (in a tool, between steps, while a step commits). Each turn is
a chain of steps with real effects: a passage inserted, a line appended to a block, then a message.

After each kill the worker is restarted; the run it left must be failed by the new worker's start-up
sweep (before the agent gets another message). After all 12: every step a killed run committed is
still there, no effect is applied twice, and the agent answers its next message."""

import random
import time

import pytest
from letta_client import Letta
from rest_framework.authtoken.models import Token

from agents.models import Run
from agents.services import INTERRUPTED
from memory.models import Block, Message, Passage
from tests.factories import make_user
from tests.fake_llm import delay, tool_call
from tests.helpers import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

KILLS = 12  # each moment twice: waiting for answer 1, 2 or 3, and six random moments


def script(i: int) -> list:
    return [tool_call("archival_memory_insert", {"content": f"fact-{i:02d}", "request_heartbeat": True}),
            tool_call("core_memory_append", {"label": "human", "content": f"line-{i:02d}", "request_heartbeat": True}),
            tool_call("send_message", {"message": f"done-{i:02d}"})]


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker, live_llm, tmp_path_factory):
    """A live stack of this module's own, whose agents embed through the scripted server: a worker
    that loads no local model starts in a second or two, and this test starts one 12 times."""
    from django.conf import settings
    from django.db import connection

    from tests.live_stack import LiveStack

    with django_db_blocker.unblock():
        stack = LiveStack(llm_url=live_llm.base_url, database=connection.settings_dict["NAME"],
                          queue=settings.CELERY_TASK_DEFAULT_QUEUE + "-kills",
                          channels_prefix=settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"],
                          logs=settings.DATA_DIR / "live-logs-kills", concurrency=2,
                          extra_env={"EMBEDDING_MODEL": "openai/fake-embedding"})
    yield stack
    stack.stop()


def test_a_worker_killed_mid_turn_12_times_loses_no_committed_step_and_applies_no_effect_twice(
        stack, live_llm, transactional_db):
    began = time.monotonic()
    rng = random.Random(6)
    sdk = Letta(base_url=stack.url, api_key=Token.objects.create(user=make_user()).key, max_retries=0, timeout=60)
    agent = sdk.agents.create(name="Sam", model="openai/gpt-4o-mini",
                              memory_blocks=[{"label": "persona", "value": "I am Sam."},
                                             {"label": "human", "value": "Ada."}])
    agent_pk = int(agent.id.removeprefix("agent-"))
    rounds, restarts = [], []
    for i in range(KILLS):
        live_llm.reset()
        steps = script(i)
        # even rounds: the worker waits for answer k (1-3), so the steps before it are committed;
        # odd rounds: a turn without waits, killed 0-120 ms after its first LLM call
        waiting_for = (i // 2) % 3 + 1 if i % 2 == 0 else None
        if waiting_for:
            steps[waiting_for - 1] = delay(60, steps[waiting_for - 1])
        live_llm.enqueue(*steps)
        run_id = int(sdk.agents.messages.create_async(agent.id, input=f"message {i}").id.removeprefix("run-"))
        if waiting_for:
            wait_until(lambda: len(live_llm.chat_requests()) >= waiting_for, interval=0.02,
                       message=f"LLM call {waiting_for} of round {i}")
            time.sleep(0.1)
        else:
            wait_until(lambda: live_llm.chat_requests(), interval=0.01, message=f"the first LLM call of round {i}")
            time.sleep(rng.uniform(0, 0.12))
        stack.kill("worker")
        started = time.monotonic()
        stack.restart("worker")
        restarts.append(time.monotonic() - started)
        # failed by the new worker's start-up sweep: the agent has had no other message to notice it
        run = wait_until(lambda: (r := Run.objects.get(pk=run_id)).status not in ("queued", "running") and r,
                         timeout=30, message=f"the run of round {i} to be swept")
        assert run.status in ("failed", "completed"), (i, run.status, run.error)
        if waiting_for:
            assert (run.status, run.stop_reason, run.error) == ("failed", "error", INTERRUPTED), i
        rounds.append((i, waiting_for, run))
    print(f"\n{KILLS} kills in {time.monotonic() - began:.1f} s; worker restarts: {sum(restarts):.1f} s in all, "
          f"{min(restarts):.2f}-{max(restarts):.2f} s each; "
          f"runs: {sum(r.status == 'failed' for _, _, r in rounds)} failed, "
          f"{sum(r.status == 'completed' for _, _, r in rounds)} completed before the kill")

    human = Block.objects.get(label="human", blockattachment__agent_id=agent_pk).value
    passages = list(Passage.objects.filter(agent_id=agent_pk).values_list("text", flat=True))
    for i, waiting_for, run in rounds:
        results = list(Message.objects.filter(run=run, role="tool").order_by("id").values_list("content", flat=True))
        # every effect at most once, and exactly once when its tool result was committed
        assert passages.count(f"fact-{i:02d}") <= 1 and human.count(f"line-{i:02d}") <= 1, (i, passages, human)
        assert Message.objects.filter(run=run, kind="user_message").count() == 1, i
        if waiting_for:  # the steps before the awaited answer, all committed and kept
            assert len(results) == waiting_for - 1, (i, waiting_for, results)
            assert run.steps.exclude(response=None).count() >= waiting_for - 1, i
            assert passages.count(f"fact-{i:02d}") == (waiting_for >= 2), (i, passages)
            assert human.count(f"line-{i:02d}") == (waiting_for >= 3), (i, human)
        elif len(results) >= 2:  # the append's result was committed: so was the append
            assert human.count(f"line-{i:02d}") == 1, (i, human)
        if results:
            assert passages.count(f"fact-{i:02d}") == 1, (i, passages)

    print("tool results kept per killed run:", [Message.objects.filter(run=run, role="tool").count()
                                                for _, _, run in rounds])
    live_llm.reset()
    live_llm.enqueue(tool_call("send_message", {"message": "Back."}))
    reply = sdk.agents.messages.create(agent.id, input="are you there?")
    assert reply.stop_reason.stop_reason == "end_turn"
    assert [m.content for m in reply.messages if m.message_type == "assistant_message"] == ["Back."]
    assert live_llm.refused == []
    assert Passage.objects.filter(agent_id=agent_pk, embedding_model="openai/fake-embedding").exists()
    live_llm.reset()
    sdk.close()
