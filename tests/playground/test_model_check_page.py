"""The "Check model" button: the check runs on the worker, the fragment polls until its report is there,
and what the model wrote is escaped."""

import re

import pytest
from django.urls import reverse

from agents.models import Agent
from agents.services import agent_create
from memory.models import Message, Passage
from tests.factories import make_user
from tests.fake_llm import text, tool_call
from tests.helpers import wait_until

pytestmark = pytest.mark.django_db(transaction=True)
XSS = "<script>alert('x')</script>"


@pytest.fixture
def agent(db):
    return agent_create(owner=make_user(), name="Sam", persona="I am Sam.")


def polled_url(fragment: str) -> str:
    return re.search(r'hx-get="([^"]+/model-check/[0-9a-f]{32})"', fragment).group(1)


def poll(client, url) -> str:
    bodies = []

    def done():
        bodies.append(client.get(url).content.decode())
        return "hx-trigger" not in bodies[-1]

    wait_until(done, timeout=20)
    return bodies[-1]


def test_the_button_runs_the_check_on_the_worker_and_shows_the_report(client, agent, llm, celery_worker):
    client.force_login(agent.owner)
    page = client.get(reverse("agent", args=[agent.pk])).content.decode()
    assert reverse("agent-check-model", args=[agent.pk]) in page and "Check model" in page

    llm.enqueue(tool_call("archival_memory_insert", {"content": "x"}), tool_call("send_message", {"message": "Saved."}))
    response = client.post(reverse("agent-check-model", args=[agent.pk]), HTTP_HX_REQUEST="true")
    fragment = response.content.decode()
    assert response.status_code == 200 and "Checking the model" in fragment
    body = poll(client, polled_url(fragment))

    assert "Model check: gpt-4o-mini" in body and "every required point passed" in body
    assert 'data-point="heartbeat"' in body and "Fix: heartbeat_fallback" in body  # it forgot the heartbeat
    # a throwaway conversation: the agent's memory is as it was
    assert not Message.objects.filter(agent=agent).exists() and not Passage.objects.exists()
    assert not agent.runs.exists()


def test_model_written_text_is_escaped_and_a_failure_is_said(client, agent, llm, celery_worker):
    client.force_login(agent.owner)
    llm.enqueue(text(XSS))
    body = poll(client, polled_url(client.post(reverse("agent-check-model", args=[agent.pk])).content.decode()))
    assert XSS not in body and "&lt;script&gt;" in body
    assert "a required point failed" in body


def test_the_agents_fallbacks_are_checked_with_it(client, agent, llm, celery_worker):
    Agent.objects.filter(pk=agent.pk).update(tool_protocol="json", heartbeat_fallback=True)
    llm.tools_refused = True
    llm.enqueue(text('{"thinking": "t", "tool": "archival_memory_insert", "arguments": {"content": "x"}}'),
                text('{"thinking": "t", "tool": "send_message", "arguments": {"message": "Saved."}}'))
    client.force_login(agent.owner)
    body = poll(client, polled_url(client.post(reverse("agent-check-model", args=[agent.pk])).content.decode()))
    assert "Tool protocol json · heartbeat fallback on" in body and "every required point passed" in body
    assert llm.refused == []


def test_nobody_else_reads_a_check(client, agent):
    client.force_login(make_user())
    assert client.post(reverse("agent-check-model", args=[agent.pk])).status_code == 404
    assert client.get(reverse("agent-model-check", args=[agent.pk, "abc"])).status_code == 404
