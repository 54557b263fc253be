"""The Timeline tab and going back from it, with Django's test client on real turns: runs, steps and
memory changes in order, fork and continue, escaping, and nobody else's steps."""

import pytest
from django.urls import reverse

from agents.models import Agent, Run, Step
from agents.services import agent_create, block_edit, turn_enqueue
from tests.factories import make_user
from tests.fake_llm import tool_call
from tests.helpers import wait_for_runs

pytestmark = pytest.mark.django_db(transaction=True)
XSS = "<script>alert('x')</script>"


@pytest.fixture
def agent(db):
    return agent_create(owner=make_user(), name="Sam", persona="I am Sam.", human="")


@pytest.fixture
def owner_client(client, agent):
    client.force_login(agent.owner)
    return client


@pytest.fixture
def turn(agent, llm, celery_worker):
    llm.enqueue(
        tool_call("core_memory_append", {"label": "human", "content": "Name: Ada " + XSS, "request_heartbeat": True},
                  content="Worth keeping " + XSS),
        tool_call("archival_memory_insert", {"content": "Ada likes owls " + XSS, "request_heartbeat": True}),
        tool_call("send_message", {"message": "Hello " + XSS}),
    )
    turn_enqueue(agent=agent, text="Hi, I'm Ada " + XSS)
    [run] = wait_for_runs(agent)
    return run


def test_the_timeline_shows_runs_steps_and_what_each_changed(owner_client, agent, turn):
    block_edit(block_id=agent.blocks.get(label="persona").pk, user=agent.owner, replace=("Sam", "Samuel"))

    page = owner_client.get(reverse("timeline", args=[agent.pk]))

    html = page.content.decode()
    assert page.status_code == 200
    assert XSS not in html and "&lt;script&gt;" in html
    assert html.index(f"Run {turn.pk}") > html.index("edited persona")  # newest first: the person's edit came after
    steps = list(turn.steps.order_by("index"))
    for step in steps:
        assert f'id="timeline-step-{step.pk}"' in html
        assert reverse("step-fork", args=[agent.pk, step.pk]) in html
        assert reverse("step-replays", args=[agent.pk, step.pk]) in html
        assert reverse("agent-rewind", args=[agent.pk, step.pk]) in html
    assert html.count('<code class="call">') == 3
    assert "✎ human" in html and "+ archival: Ada likes owls" in html
    assert reverse("run-scenario", args=[agent.pk, turn.pk]) in html


def test_fork_from_the_timeline_then_make_the_step_again(owner_client, agent, turn, llm):
    step = turn.steps.get(index=2)
    original = [r["raw"] for r in llm.requests if r["path"] == "/v1/chat/completions"][2]
    answer = owner_client.post(reverse("step-fork", args=[agent.pk, step.pk]), HTTP_HX_REQUEST="true")

    fork = Agent.objects.exclude(pk=agent.pk).get(owner=agent.owner)
    assert answer["HX-Redirect"] == reverse("agent", args=[fork.pk])
    page = owner_client.get(reverse("agent", args=[fork.pk])).content.decode()
    assert "stands just before step 2 of run" in page and "Make step 2 again" in page
    assert reverse("agent", args=[agent.pk]) in page  # where it came from
    timeline = owner_client.get(reverse("timeline", args=[fork.pk])).content.decode()
    assert "Forked from" in timeline and "No runs yet." in timeline

    llm.reset()
    llm.enqueue(tool_call("send_message", {"message": "Hello again."}))
    assert owner_client.post(reverse("agent-continue", args=[fork.pk]), HTTP_HX_REQUEST="true").content == b""
    [run] = wait_for_runs(fork)
    assert (run.trigger, run.status) == (Run.Trigger.CONTINUE, Run.Status.COMPLETED)
    [again] = [r["raw"] for r in llm.requests if r["path"] == "/v1/chat/completions"]
    assert again == original
    assert "Make step 2 again" not in owner_client.get(reverse("agent", args=[fork.pk])).content.decode()
    # nothing pending: the button's answer says so
    notice = owner_client.post(reverse("agent-continue", args=[fork.pk]), HTTP_HX_REQUEST="true").content.decode()
    assert "has no pending step" in notice


def test_a_fork_page_names_what_changed_since_the_step(owner_client, agent, turn):
    step = turn.steps.get(index=0)
    owner_client.post(reverse("step-fork", args=[agent.pk, step.pk]), HTTP_HX_REQUEST="true")
    fork = Agent.objects.exclude(pk=agent.pk).get(owner=agent.owner)
    fork.pending_turn["differences"] = [".messages[1].content: " + XSS]
    fork.save()
    page = owner_client.get(reverse("agent", args=[fork.pk])).content.decode()
    assert "will differ from the step" in page and XSS not in page


def test_nobody_forks_or_reads_another_users_timeline(client, agent, turn):
    client.force_login(make_user())
    step = Step.objects.filter(run=turn).first()
    assert client.get(reverse("timeline", args=[agent.pk])).status_code == 404
    assert client.post(reverse("step-fork", args=[agent.pk, step.pk])).status_code == 404
    assert client.post(reverse("agent-continue", args=[agent.pk])).status_code == 404
    assert Agent.objects.count() == 1
