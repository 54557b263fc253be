"""Turns end to end: the real worker, PostgreSQL, Redis and the openai SDK against the scripted server."""

import json

import pytest

from agents.engine.context import TIERS
from agents.llm import LLMNotConfigured
from agents.models import Run, Step
from agents.services import agent_create, turn_enqueue
from memory.models import BlockRevision, Message, Passage
from memory.tokens import REPLY_PRIMING, count_message, count_tools, tokenizer_for_model
from tests.factories import make_user
from tests.fake_llm import context_overflow, error, text, tool_call
from tests.helpers import wait_for_runs, wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def agent(db):
    return agent_create(owner=make_user(), name="Sam", persona="I am Sam.", human="")


def test_the_agent_edits_the_human_block_and_the_next_request_shows_it(agent, llm, celery_worker, published):
    llm.enqueue(
        tool_call("core_memory_append", {"label": "human", "content": "Name: Ada", "request_heartbeat": True},
                  content="She told me her name."),
        tool_call("send_message", {"message": "Hello Ada!"}),
    )
    run = turn_enqueue(agent=agent, text="Hi, I'm Ada")
    [run] = wait_for_runs(agent)

    assert (run.status, run.stop_reason) == ("completed", "end_turn")
    first, second = llm.chat_requests()
    assert "Name: Ada" not in first["messages"][0]["content"]
    assert "<value>\nName: Ada\n</value>" in second["messages"][0]["content"]
    human = agent.blocks.get(label="human")
    assert human.value == "Name: Ada"
    revision = BlockRevision.objects.get(block=human)
    assert (revision.actor, revision.before, revision.after) == ("agent", {"value": ""}, {"value": "Name: Ada"})
    assert revision.step.run_id == run.pk and revision.step.index == 0
    # recall memory holds the whole exchange, in order
    kinds = list(Message.objects.filter(agent=agent).values_list("kind", flat=True))
    assert kinds == ["user_message", "assistant", "tool_result", "heartbeat", "assistant", "tool_result"]
    types = [e["type"] for _, e in published if not e["type"].endswith("_delta")]
    # the edit is announced as it is made; every message stored is announced as the events it stands for
    assert types == ["run_started", "user_message", "usage", "reasoning", "tool_call", "memory_change", "tool_result",
                     "system_alert", "usage", "assistant_message", "tool_result", "stop"]
    assert all(event["run_id"] == run.pk for _, event in published)


def test_each_step_stores_the_exact_request_and_tiers_that_add_up(agent, llm, celery_worker):
    llm.enqueue(tool_call("send_message", {"message": "hi"}, usage={"prompt_tokens": 1234, "completion_tokens": 9, "total_tokens": 1243}))
    turn_enqueue(agent=agent, text="hello")
    wait_for_runs(agent)
    step = Step.objects.get(run__agent=agent)
    [request] = llm.chat_requests()
    assert step.request == request
    tokenizer, _ = tokenizer_for_model("gpt-4o-mini")
    exact = sum(count_message(tokenizer, m) for m in request["messages"]) + REPLY_PRIMING + count_tools(tokenizer, request["tools"])
    assert sum(step.tokens[t] for t in TIERS) == step.tokens["prompt_total"] == exact
    assert (step.prompt_tokens, step.completion_tokens) == (1234, 9)
    assert step.response["choices"][0]["message"]["tool_calls"][0]["function"]["name"] == "send_message"
    assert step.latency_ms > 0


def test_archival_insert_then_search_finds_it_by_meaning(agent, llm, celery_worker, archival_store):
    llm.enqueue(
        tool_call("archival_memory_insert", {"content": "Ada's favourite board game is chess.", "request_heartbeat": True}),
        tool_call("archival_memory_search", {"query": "which strategy game does Ada enjoy", "request_heartbeat": True}),
        tool_call("send_message", {"message": "Chess!"}),
    )
    turn_enqueue(agent=agent, text="remember my game")
    [run] = wait_for_runs(agent)
    assert run.status == "completed"
    assert Passage.objects.get(agent=agent).embedding_model == "local/all-MiniLM-L6-v2"
    result = json.loads([m for m in llm.chat_requests()[2]["messages"] if m["role"] == "tool"][-1]["content"])
    assert result["status"] == "OK"
    assert result["message"].startswith("Showing 1 of 1 results (page 1 of 1):")
    assert "favourite board game is chess" in result["message"]


def test_five_messages_at_once_are_all_answered_in_order(agent, llm, celery_worker):
    llm.responder = lambda request: tool_call(
        "send_message", {"message": "echo " + json.loads(request["messages"][-1]["content"])["message"]})
    for i in range(5):
        turn_enqueue(agent=agent, text=f"message {i}")
    runs = wait_for_runs(agent, 5)
    assert [r.status for r in runs] == ["completed"] * 5
    said = [json.loads(r["messages"][-1]["content"])["message"] for r in llm.chat_requests()]
    assert said == [f"message {i}" for i in range(5)]
    texts = list(Message.objects.filter(agent=agent, kind__in=["user_message", "assistant"]).values_list("text", flat=True))
    assert texts == [t for i in range(5) for t in (f"message {i}", f"echo message {i}")]
    # each request saw the previous exchanges: turns never interleave
    assert [len(r["messages"]) for r in llm.chat_requests()] == [2, 5, 8, 11, 14]


def test_a_500_then_success(agent, llm, celery_worker):
    llm.enqueue(error(500, "boom"), tool_call("send_message", {"message": "recovered"}))
    turn_enqueue(agent=agent, text="hi")
    [run] = wait_for_runs(agent)
    assert run.status == "completed"
    steps = list(Step.objects.filter(run=run).order_by("index"))
    assert "500" in steps[0].error and steps[1].error == ""


def test_a_provider_that_keeps_failing_fails_the_turn_and_the_agent_stays_usable(agent, llm, celery_worker, published):
    llm.enqueue(*[error(503, "overloaded")] * 3)
    turn_enqueue(agent=agent, text="hi")
    [run] = wait_for_runs(agent)
    assert (run.status, run.stop_reason) == ("failed", "error")
    assert "503" in run.error
    # the run's row is finished first, then its end is announced: wait for the announcement
    wait_until(lambda: any(e["type"] == "stop" for _, e in published), message="the stop event")
    assert any(e["type"] == "error" and "503" in e["message"] for _, e in published)

    llm.enqueue(tool_call("send_message", {"message": "back"}))
    turn_enqueue(agent=agent, text="again")
    runs = wait_for_runs(agent, 2)
    assert runs[1].status == "completed"


def test_a_context_length_error_flushes_and_retries(agent, llm, celery_worker):
    llm.enqueue(tool_call("send_message", {"message": "one"}))
    turn_enqueue(agent=agent, text="first")
    wait_for_runs(agent)
    llm.enqueue(context_overflow(), text("We said hello."), tool_call("send_message", {"message": "fits"}))
    turn_enqueue(agent=agent, text="second")
    runs = wait_for_runs(agent, 2)
    assert runs[1].status == "completed"
    summary = Message.objects.get(agent=agent, kind="summary", in_context=True)
    assert summary.run_id == runs[1].pk and summary.text == "We said hello."
    assert Message.objects.filter(agent=agent, in_context=False).exists()


def test_a_read_only_block_edit_fails_and_changes_nothing(agent, llm, celery_worker):
    human = agent.blocks.get(label="human")
    human.read_only = True
    human.save()
    llm.enqueue(tool_call("core_memory_replace", {"label": "human", "old_content": "", "new_content": "x"}),
                tool_call("send_message", {"message": "sorry"}))
    turn_enqueue(agent=agent, text="hi")
    [run] = wait_for_runs(agent)
    assert run.status == "completed"
    assert not BlockRevision.objects.exists()
    result = json.loads(Message.objects.filter(agent=agent, kind="tool_result").first().content)
    assert result["status"] == "Failed" and "read-only" in result["message"]


def test_sending_without_a_model_explains_how_to_configure_one(agent, settings):
    settings.LLM_MODEL = ""
    with pytest.raises(LLMNotConfigured, match="set LLM_MODEL"):
        turn_enqueue(agent=agent, text="hi")
    assert not Run.objects.exists()


def test_a_chain_of_three_heartbeats(agent, llm, celery_worker):
    llm.enqueue(
        tool_call("archival_memory_insert", {"content": "Ada plays the cello.", "request_heartbeat": True}),
        tool_call("archival_memory_search", {"query": "cello", "request_heartbeat": True}),
        tool_call("conversation_search", {"query": "cello", "request_heartbeat": True}),
        tool_call("send_message", {"message": "You play the cello!"}),
    )
    turn_enqueue(agent=agent, text="I play the cello")
    [run] = wait_for_runs(agent)
    assert (run.status, run.stop_reason) == ("completed", "end_turn")
    assert list(Step.objects.filter(run=run).order_by("index").values_list("index", flat=True)) == [0, 1, 2, 3]
    assert Message.objects.filter(run=run, kind="heartbeat").count() == 3
    searched = json.loads([m for m in llm.chat_requests()[2]["messages"] if m["role"] == "tool"][-1]["content"])
    assert "Ada plays the cello." in searched["message"]


@pytest.mark.parametrize(
    ("arguments", "name", "expected"),
    [
        ('{"label": "human", "content": ', "core_memory_append", "are not valid JSON"),
        ({"label": "human"}, "core_memory_append", "missing required argument 'content'"),
        ({"where": "mars"}, "teleport", "Unknown tool 'teleport'"),
        ({"label": "human", "content": "x" * 6000}, "core_memory_append", "over its limit of 5000"),
        ({"label": "persona", "old_content": "nothing like this", "new_content": "x"}, "core_memory_replace",
         "was not found in the block 'persona'"),
        # each of these once broke the agent for good: the tool raised, and its call stayed without a result
        ({"start_date": "2026-01-01", "end_date": "9999-12-31"}, "conversation_search_date", "OverflowError"),
        ({"label": "nowhere", "content": "a NUL \u0000 here"}, "core_memory_append", "No core memory block labelled 'nowhere'"),
        ({}, "t" * 300, "Unknown tool 'invalid_ttt"),
    ],
)
def test_a_malformed_call_is_reported_to_the_model_and_the_turn_goes_on(agent, llm, celery_worker, arguments, name, expected):
    llm.enqueue(tool_call(name, arguments), tool_call("send_message", {"message": "Fixed."}))
    turn_enqueue(agent=agent, text="hi")
    [run] = wait_for_runs(agent)
    assert (run.status, run.stop_reason) == ("completed", "end_turn")
    [result] = [json.loads(m.content) for m in Message.objects.filter(run=run, kind="tool_result")
                if m.name == name or m.name.startswith("invalid_")]
    assert result["status"] == "Failed" and expected in result["message"]
    assert not BlockRevision.objects.exists()
    assert agent.blocks.get(label="persona").value == "I am Sam."
    # and the agent answers its next message: the provider took the history
    llm.enqueue(tool_call("send_message", {"message": "Still here."}))
    turn_enqueue(agent=agent, text="still there?")
    assert wait_for_runs(agent, 2)[1].status == "completed" and llm.refused == []


def test_nul_and_lone_surrogates_from_the_model_are_stored_as_replacement_characters(agent, llm, celery_worker):
    llm.enqueue(tool_call("archival_memory_insert", {"content": "a NUL \u0000 and a lone \ud800 here", "request_heartbeat": True},
                          content="Saving \u0000 it."),
                tool_call("send_message", {"message": "Saved \u0000 \ud800."}))
    turn_enqueue(agent=agent, text="remember this")
    [run] = wait_for_runs(agent)
    assert (run.status, run.stop_reason) == ("completed", "end_turn"), run.error
    assert list(agent.passages.values_list("text", flat=True)) == ["a NUL \ufffd and a lone \ufffd here"]
    assert Message.objects.get(run=run, kind="assistant", text__startswith="Saved").text == "Saved \ufffd \ufffd."
    assert llm.refused == []
