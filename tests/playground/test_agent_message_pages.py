"""Messages between agents on the pages: the chat shows a message from an agent as such, linked to
it; the traces show the call tree across agents, in a few queries however many runs."""

from datetime import datetime, timezone

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from agents.engine import prompts
from agents.services import agent_create
from memory.models import Message
from memory.services import messages_append
from tests.factories import make_run, make_step, make_user

pytestmark = pytest.mark.django_db
XSS = "<script>alert('x')</script>"


def exchange(owner, sender, recipient, text="What is 2 + 2?"):
    """A run of `sender` whose first step sent `text` to `recipient`, whose own run answered."""
    run = make_run(sender)
    step = make_step(run)
    answer = make_run(recipient, trigger="agent_message", input=text, parent_run=run, parent_step=step, awaited=True)
    make_step(answer)
    content = prompts.agent_message(text, {"id": f"agent-{sender.pk}", "name": sender.name, "waits": True},
                                    datetime(2026, 11, 30, tzinfo=timezone.utc))
    messages_append(agent_id=recipient.pk, owner_id=owner.pk, run_id=answer.pk, embed=False, messages=[
        {"role": "user", "kind": Message.Kind.AGENT_MESSAGE, "content": content, "text": text}])
    return run, step, answer


def test_the_chat_shows_a_message_from_an_agent_with_a_link_to_it(client):
    owner = make_user()
    ann = agent_create(owner=owner, name=XSS)
    bob = agent_create(owner=owner, name="Bob")
    exchange(owner, ann, bob, text=f"hello {XSS}")
    client.force_login(owner)
    html = client.get(reverse("agent", args=[bob.pk])).content.decode()
    assert f'<div class="from">from <a href="/agents/{ann.pk}/">&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;</a>, an agent' in html
    assert "hello &lt;script&gt;" in html and XSS not in html


def test_traces_show_the_call_tree_across_agents(client):
    owner = make_user()
    ann, bob, cal = (agent_create(owner=owner, name=name) for name in ("Ann", "Bob", "Cal"))
    run, step, answer = exchange(owner, ann, bob)
    _, bobs_step, deeper = exchange(owner, bob, cal)
    deeper.parent_run, deeper.parent_step = answer, answer.steps.get()  # Ann -> Bob -> Cal
    deeper.save()
    client.force_login(owner)

    html = client.get(reverse("traces", args=[ann.pk])).content.decode()
    tree = html[html.index(f'id="trace-run-{run.pk}"'):]
    assert tree.index(f'id="trace-run-{answer.pk}"') < tree.index(f'id="trace-run-{deeper.pk}"')
    assert f'→ sent to <a href="/agents/{bob.pk}/">Bob</a>' in tree
    assert f'→ sent to <a href="/agents/{cal.pk}/">Cal</a>' in tree
    assert reverse("step", args=[cal.pk, deeper.steps.get().pk]) in tree  # a step of Cal's, opened from Ann's traces
    html = client.get(reverse("traces", args=[cal.pk])).content.decode()
    assert f'← a message from <a href="/agents/{bob.pk}/">Bob</a>, run {answer.pk} step 0, which waits for the reply' in html

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(reverse("traces", args=[ann.pk])).status_code == 200
        return len(captured)

    few = queries()
    for _ in range(8):  # more runs and trees: no more queries
        exchange(owner, ann, bob)
    assert queries() == few


def test_nobody_opens_another_users_step_through_a_tree(client):
    owner = make_user()
    ann = agent_create(owner=owner, name="Ann")
    stranger = agent_create(owner=make_user(), name="Stranger")
    stranger_step = make_step(make_run(stranger))
    client.force_login(owner)
    assert client.get(reverse("step", args=[ann.pk, stranger_step.pk])).status_code == 404
    assert client.get(reverse("step", args=[stranger.pk, stranger_step.pk])).status_code == 404
