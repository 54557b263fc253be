"""The rewind page (what goes, then the rewind), and the agent page's banner with its undo and keep
buttons; everything a person or the model wrote is escaped."""

import pytest
from django.test import Client
from django.urls import reverse

from agents.models import Rewind, Run, Step
from agents.services import agent_create, turn_enqueue
from memory.models import Message, Passage
from tests.factories import make_run, make_user
from tests.fake_llm import tool_call
from tests.helpers import wait_for_runs

pytestmark = pytest.mark.django_db(transaction=True)
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def ran(llm, celery_worker):
    """An agent after a turn that edited its human block, inserted a passage and answered with markup."""
    agent = agent_create(owner=make_user(), name="Sam", persona="I am Sam.", human="")
    llm.enqueue(tool_call("core_memory_append", {"label": "human", "content": "Name: <i>Ada</i>", "request_heartbeat": True}),
                tool_call("archival_memory_insert", {"content": "Ada likes <script>owls</script>.",
                                                     "request_heartbeat": True}),
                tool_call("send_message", {"message": "<b>x</b>"}))
    turn_enqueue(agent=agent, text="Hi, I'm Ada")
    [run] = wait_for_runs(agent)
    client = Client()
    client.force_login(agent.owner)
    return agent, run, client


def test_the_preview_lists_what_goes_escaped(ran):
    agent, run, client = ran
    step = run.steps.get(index=0)

    page = client.get(reverse("agent-rewind", args=[agent.pk, step.pk]))

    assert page.status_code == 200
    html = page.content.decode()
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html
    assert "&lt;script&gt;owls&lt;/script&gt;" in html and "<script>owls" not in html
    assert "Name: &lt;i&gt;Ada&lt;/i&gt;" in html  # the block edit undone
    went = Message.objects.filter(agent=agent, pk__gt=step.state["last_message_id"]).count()
    assert f"remove {went} messages, 1 block edit, 1 passage" in html
    assert f'action="{reverse("agent-rewind", args=[agent.pk, step.pk])}"' in html
    assert Step.objects.filter(pk=step.pk).exists()  # a GET changes nothing


def test_rewind_banner_undo_and_keep(ran):
    agent, run, client = ran
    step = run.steps.get(index=0)
    messages = list(Message.objects.filter(agent=agent).values_list("pk", flat=True))

    done = client.post(reverse("agent-rewind", args=[agent.pk, step.pk]), **HTMX)

    assert done.status_code == 200 and done["HX-Redirect"] == reverse("agent", args=[agent.pk])
    rewind = Rewind.objects.get(agent=agent)
    page = client.get(reverse("agent", args=[agent.pk])).content.decode()
    assert (f"Rewound to before step 0 of run {run.pk}: {rewind.counts['messages']} messages, 1 block edit, "
            "1 passage removed.") in page
    assert reverse("rewind-undo", args=[agent.pk, rewind.pk]) in page
    assert reverse("rewind-confirm", args=[agent.pk, rewind.pk]) in page
    assert "Make step 0 again" in page and reverse("agent-continue", args=[agent.pk]) in page
    assert not Passage.objects.filter(agent=agent).exists()

    undone = client.post(reverse("rewind-undo", args=[agent.pk, rewind.pk]), **HTMX)
    assert undone["HX-Redirect"] == reverse("agent", args=[agent.pk])
    assert list(Message.objects.filter(agent=agent).values_list("pk", flat=True)) == messages
    assert "Rewound to before" not in client.get(reverse("agent", args=[agent.pk])).content.decode()

    client.post(reverse("agent-rewind", args=[agent.pk, run.steps.get(index=2).pk]))  # a plain form: redirected
    second = Rewind.objects.get(agent=agent, status="pending")
    kept = client.post(reverse("rewind-confirm", args=[agent.pk, second.pk]))
    assert kept.status_code == 302
    second.refresh_from_db()
    assert (second.status, second.removed) == ("confirmed", {})
    again = client.post(reverse("rewind-undo", args=[agent.pk, second.pk]), **HTMX)
    assert "confirmed already" in again.content.decode()


def test_others_get_404_and_a_busy_agent_is_not_rewound(ran):
    agent, run, client = ran
    step = run.steps.get(index=0)
    stranger = Client()
    stranger.force_login(make_user())
    assert stranger.get(reverse("agent-rewind", args=[agent.pk, step.pk])).status_code == 404
    assert stranger.post(reverse("agent-rewind", args=[agent.pk, step.pk])).status_code == 404
    other = agent_create(owner=agent.owner, name="Other")
    assert client.get(reverse("agent-rewind", args=[other.pk, step.pk])).status_code == 404

    make_run(agent, status=Run.Status.RUNNING)
    page = client.get(reverse("agent-rewind", args=[agent.pk, step.pk])).content.decode()
    assert "queued or under way" in page and "disabled" in page
    refused = client.post(reverse("agent-rewind", args=[agent.pk, step.pk]))
    assert refused.status_code == 409 and not Rewind.objects.exists()
