"""The groups pages with Django's test client: the form, the page's history, escaping, nobody else's."""

import pytest
from django.urls import reverse

from agents.models import Group, GroupTurn, Run
from agents.services import agent_create
from memory.models import Message
from memory.services import messages_append
from tests.factories import make_user

pytestmark = pytest.mark.django_db
XSS = "<script>alert('x')</script>"


def test_create_a_supervisor_group_with_a_shared_block_in_the_form(client):
    owner = make_user()
    boss, wren, finch = (agent_create(owner=owner, name=n) for n in ("Boss", "Wren", "Finch"))
    client.force_login(owner)
    assert "Supervisor" in client.get(reverse("groups")).content.decode()
    response = client.post(reverse("group-new"), {"kind": "supervisor", "description": "owls", "members": [wren.pk, finch.pk],
                                                  "manager": boss.pk, "block_label": "board", "block_value": "Done:"},
                           HTTP_HX_REQUEST="true")
    group = Group.objects.get(owner=owner)
    assert response.status_code == 200 and response["HX-Redirect"] == reverse("group", args=[group.pk])
    assert (group.kind, group.manager_id, [m.agent_id for m in group.memberships.all()]) == \
        ("supervisor", boss.pk, [finch.pk, wren.pk])  # in the order the form lists them
    assert all(a.blocks.filter(label="board", value="Done:").exists() for a in (boss, wren, finch))

    refused = client.post(reverse("group-new"), {"kind": "supervisor", "members": [wren.pk]}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 422 and "needs its manager agent" in refused.content.decode()
    stranger = agent_create(owner=make_user(), name="Stranger")
    refused = client.post(reverse("group-new"), {"kind": "round_robin", "members": [stranger.pk]}, HTTP_HX_REQUEST="true")
    assert refused.status_code == 422 and Group.objects.count() == 1


def test_the_group_page_shows_each_agents_answer_under_its_name_escaped(client):
    owner = make_user()
    ann = agent_create(owner=owner, name=XSS)
    group = Group.objects.create(owner=owner, kind="round_robin", description=f"team {XSS}")
    group.memberships.create(agent=ann, position=0)
    turn = GroupTurn.objects.create(group=group, input=f"hello {XSS}")
    run = Run.objects.create(agent=ann, trigger="group_message", input="[]", group_turn=turn, status="completed")
    messages_append(agent_id=ann.pk, owner_id=owner.pk, run_id=run.pk, embed=False, messages=[
        {"role": "user", "kind": Message.Kind.GROUP_MESSAGE, "content": "{}", "text": "the person: hello"},
        {"role": "assistant", "kind": Message.Kind.ASSISTANT, "content": "", "text": f"answer {XSS}"}])
    client.force_login(owner)
    html = client.get(reverse("group", args=[group.pk])).content.decode()
    assert XSS not in html and "team &lt;script&gt;" in html and "hello &lt;script&gt;" in html
    assert f'<div class="speaker"><a href="/agents/{ann.pk}/">&lt;script&gt;' in html
    assert "answer &lt;script&gt;" in html
    assert "the person: hello" not in html  # the person's message is shown once, not again per agent

    other = make_user()
    client.force_login(other)
    assert client.get(reverse("group", args=[group.pk])).status_code == 404
    assert client.post(reverse("group-send", args=[group.pk]), {"text": "hi"}).status_code == 404
    assert client.post(reverse("group-delete", args=[group.pk])).status_code == 404


def test_a_sleeptime_agents_edit_shows_in_the_block_history_under_its_name(client):
    from agents.groups import group_create
    from agents.services import block_edit
    from memory.models import BlockRevision
    from tests.factories import make_run, make_step

    owner = make_user()
    primary, sleeper = agent_create(owner=owner, name="Sam"), agent_create(owner=owner, name=f"Dozer {XSS}")
    group_create(owner=owner, kind="sleeptime", members=[sleeper], manager=primary, sleeptime_frequency=3)
    human = primary.blocks.get(label="human")
    step = make_step(make_run(sleeper, trigger="sleeptime"))
    block_edit(block_id=human.pk, actor=BlockRevision.Actor.AGENT, step_id=step.pk, append="Likes jazz.")
    client.force_login(owner)
    html = client.get(reverse("block-history", args=[primary.pk, human.pk])).content.decode()
    assert (f'<a href="/agents/{sleeper.pk}/">Dozer &lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;</a> '
            f"(another agent sharing the block), step 0 of run {step.run_id}") in html
    html = client.get(reverse("block-history", args=[sleeper.pk, human.pk])).content.decode()
    assert f"the agent, step 0 of run {step.run_id}" in html  # on its own page: itself


def test_a_runs_error_shows_under_its_agent_and_its_other_failures_do_not(client):
    owner = make_user()
    ann = agent_create(owner=owner, name="Ann")
    group = Group.objects.create(owner=owner, kind="round_robin")
    group.memberships.create(agent=ann, position=0)
    turn = GroupTurn.objects.create(group=group, input="hi")
    Run.objects.create(agent=ann, trigger="group_message", input="[]", group_turn=turn, status="failed",
                       error="the model is down")
    Run.objects.create(agent=ann, trigger="user_message", input="elsewhere", status="failed", error="not this one")
    client.force_login(owner)
    html = client.get(reverse("group", args=[group.pk])).content.decode()
    assert "⚠ the model is down" in html and "not this one" not in html
