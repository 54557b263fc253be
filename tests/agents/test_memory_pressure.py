"""Memory pressure on the real stack: the warning, the flush into a summary, and recall of what was evicted."""

import json

import pytest

from agents.engine.prompts import MEMORY_WARNING
from agents.selectors import agent_context
from agents.services import agent_create, turn_enqueue
from memory.models import Message
from memory.search import MessageScope
from memory.selectors import message_search
from tests.factories import make_user
from tests.fake_llm import text, tool_call
from tests.helpers import wait_for_runs

pytestmark = pytest.mark.django_db(transaction=True)
SUMMARY_MARK = "You maintain the long-term summary"


def test_warning_then_flush_with_a_summary_and_the_evicted_messages_stay_searchable(llm, celery_worker, published):
    agent = agent_create(owner=make_user(), name="Sam", persona="I am Sam.", human="")
    baseline = agent_context(agent=agent).prompt_tokens
    agent.context_window, agent.completion_reserve = baseline + 1500, 200
    agent.save()

    def answer(request):
        if SUMMARY_MARK in request["messages"][0]["content"]:
            return text("The user told me a numbered list of facts about zebras.")
        said = json.loads(request["messages"][-1]["content"]).get("message", "")
        return tool_call("send_message", {"message": f"Noted: {said[:40]}"})

    llm.responder = answer
    for i in range(12):
        turn_enqueue(agent=agent, text=f"Fact {i} about zebras, codeword zq{i}x: " + "stripes and savanna grass " * 25)
        wait_for_runs(agent, i + 1)
        if Message.objects.filter(agent=agent, kind="summary").exists():
            break
    types = [e["type"] for _, e in published]
    assert "summary" in types, "the window never filled"
    warning = next(i for i, (_, e) in enumerate(published) if e.get("text") == MEMORY_WARNING)
    assert warning < types.index("summary")  # warned first, then flushed

    summary = Message.objects.get(agent=agent, kind="summary", in_context=True)
    assert "facts about zebras" in summary.content
    evicted = Message.objects.filter(agent=agent, in_context=False).exclude(kind="summary")
    assert evicted.filter(kind="user_message", text__contains="zq0x").exists()
    # the next request starts with the summary, not the evicted messages
    last = llm.chat_requests()[-1]
    assert "facts about zebras" in last["messages"][1]["content"]
    assert "zq0x" not in json.dumps(last["messages"])
    assert agent_context(agent=agent).prompt_tokens <= agent.context_window - agent.completion_reserve
    # evicted, not forgotten: recall search still finds it
    found, _ = message_search(scope=MessageScope(agent_id=agent.pk), query="zq0x", mode="fts")
    assert "Fact 0 about zebras," in [m.text[:20] for m in found]
