"""The pages with Django's test client: forms, partials, escaping, and nobody else's agents."""

import json
import re

import pytest
from django.urls import reverse

from agents.engine.context import TIERS
from agents.selectors import agent_context
from agents.services import agent_create
from memory.models import Block, BlockRevision, Message
from memory.services import messages_append
from tests.factories import make_run, make_step, make_user

pytestmark = pytest.mark.django_db
XSS = "<script>alert('x')</script>"


@pytest.fixture
def agent(db):
    return agent_create(owner=make_user(), name="Sam", persona="I am Sam.", human="Ada likes tea.")


@pytest.fixture
def owner_client(client, agent):
    client.force_login(agent.owner)
    return client


def test_create_an_agent_from_templates(client):
    user = make_user()
    client.force_login(user)
    page = client.get("/")
    assert page.status_code == 200 and "companion" in page.content.decode()
    persona = page.context["form"].fields["persona"].choices[0][0]
    human = page.context["form"].fields["human"].choices[0][0]
    response = client.post(reverse("agent-new"), {"name": "Kit", "persona": persona, "human": human, "model": "",
                                                 "context_window": 8192}, HTTP_HX_REQUEST="true")
    agent = user.agents.get(name="Kit")
    assert response["HX-Redirect"] == reverse("agent", args=[agent.pk])
    assert set(agent.blocks.values_list("label", flat=True)) == {"persona", "human"}


def test_an_invalid_create_form_comes_back_with_its_errors(client):
    client.force_login(make_user())
    response = client.post(reverse("agent-new"), {"name": "", "context_window": 10}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert "This field is required" in response.content.decode()


def test_the_agent_page_renders_chat_memory_and_escapes_everything(owner_client, agent):
    agent.name = XSS
    agent.save()
    Block.objects.filter(agents=agent, label="human").update(value=XSS)
    calls = [{"id": "c1", "type": "function", "function": {"name": "core_memory_append", "arguments": json.dumps({"label": XSS})}},
             {"id": "c2", "type": "function", "function": {"name": "send_message", "arguments": json.dumps({"message": XSS})}}]
    messages_append(agent_id=agent.pk, owner_id=agent.owner_id, messages=[
        {"role": "user", "kind": "user_message", "content": "{}", "text": XSS},
        {"role": "assistant", "kind": "assistant", "content": XSS, "text": XSS, "tool_calls": calls},
        {"role": "tool", "kind": "tool_result", "content": json.dumps({"status": "Failed", "message": XSS}), "tool_call_id": "c1"},
    ])
    page = owner_client.get(reverse("agent", args=[agent.pk])).content.decode()
    assert XSS not in page
    assert page.count("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;") >= 5
    assert 'ws-connect="/ws/agents/%d/"' % agent.pk in page
    assert "inner thoughts" in page and "core_memory_append" in page and 'badge failed' in page


def test_another_users_agent_is_404_everywhere(client, agent):
    client.force_login(make_user())
    block = agent.blocks.first()
    for url in [reverse("agent", args=[agent.pk]), reverse("inspector", args=[agent.pk]), reverse("traces", args=[agent.pk]),
                reverse("recall", args=[agent.pk]), reverse("archival", args=[agent.pk]),
                reverse("block-history", args=[agent.pk, block.pk])]:
        assert client.get(url).status_code == 404, url
    for url in [reverse("agent-send", args=[agent.pk]), reverse("block-save", args=[agent.pk, block.pk]),
                reverse("agent-delete", args=[agent.pk]), reverse("agent-action", args=[agent.pk, "reset"])]:
        assert client.post(url, {"text": "hi", "value": "x"}).status_code == 404, url
    assert Block.objects.get(pk=block.pk).value == block.value


def test_a_block_saved_in_its_form_keeps_a_revision_and_can_be_restored(owner_client, agent):
    block = agent.blocks.get(label="human")
    url = reverse("block-save", args=[agent.pk, block.pk])
    response = owner_client.post(url, {"label": "human", "description": block.description, "value": "Ada loves tea.",
                                       "limit": block.limit}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "saved" in response.content.decode()
    revision = BlockRevision.objects.get(block=block)
    assert (revision.actor, revision.user, revision.before, revision.after) == (
        "user", agent.owner, {"value": "Ada likes tea."}, {"value": "Ada loves tea."})
    history = owner_client.get(reverse("block-history", args=[agent.pk, block.pk])).content.decode()
    assert "Ada loves tea." in history and 'class="remove"' in history
    owner_client.post(reverse("block-restore", args=[agent.pk, block.pk, revision.pk]))
    assert Block.objects.get(pk=block.pk).value == "Ada likes tea."


def test_a_value_over_the_limit_is_refused_in_place(owner_client, agent):
    block = agent.blocks.get(label="human")
    response = owner_client.post(reverse("block-save", args=[agent.pk, block.pk]),
                                 {"label": "human", "value": "x" * 21, "limit": 20}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    assert "21 characters, over the limit of 20" in response.content.decode()
    assert Block.objects.get(pk=block.pk).value == "Ada likes tea."


def test_add_share_and_remove_blocks(owner_client, agent):
    owner_client.post(reverse("block-add", args=[agent.pk]), {"label": "goals", "value": "learn", "limit": 100})
    assert agent.blocks.filter(label="goals").exists()
    duplicate = owner_client.post(reverse("block-add", args=[agent.pk]), {"label": "goals", "value": "", "limit": 100})
    assert duplicate.status_code == 422 and "already has a block labelled" in duplicate.content.decode()
    other = agent_create(owner=agent.owner, name="Other", persona="", human="")
    shared = agent.blocks.get(label="goals")
    owner_client.post(reverse("block-share", args=[other.pk]), {"block": shared.pk})
    assert other.blocks.filter(pk=shared.pk).exists()
    owner_client.post(reverse("block-detach", args=[agent.pk, shared.pk]))
    assert not agent.blocks.filter(pk=shared.pk).exists() and Block.objects.filter(pk=shared.pk).exists()


def test_the_inspector_shows_the_compiled_context_tier_by_tier(owner_client, agent):
    body = owner_client.get(reverse("inspector", args=[agent.pk])).content.decode()
    tokens = agent_context(agent=agent).tokens
    shown = dict(re.findall(r'data-tier="(\w+)">.*?<td class="num now">(\d+)</td>', body, re.S))
    assert {k: int(v) for k, v in shown.items()} == {k: tokens[k] for k in (*TIERS, "completion_reserve")}
    assert f"{tokens['prompt_total']} prompt tokens" in body and "Ada likes tea." in body


def test_traces_show_steps_and_download_as_json(owner_client, agent):
    step = make_step(make_run(agent), request={"messages": [{"role": "user", "content": XSS}]},
                     response={"choices": []}, tokens={"prompt_total": 5, "messages": 5}, latency_ms=3.2)
    assert "step 0" in owner_client.get(reverse("traces", args=[agent.pk])).content.decode()
    detail = owner_client.get(reverse("step", args=[agent.pk, step.pk])).content.decode()
    assert XSS not in detail and "&lt;script&gt;" in detail
    download = owner_client.get(reverse("step-json", args=[agent.pk, step.pk]))
    assert download["Content-Disposition"] == f'attachment; filename="step-{step.pk}.json"'
    assert download.json()["request"]["messages"][0]["content"] == XSS


def test_recall_by_dates_and_archival_add_search_delete(owner_client, agent):
    messages_append(agent_id=agent.pk, owner_id=agent.owner_id,
                    messages=[{"role": "user", "kind": "user_message", "content": "{}", "text": "my bike is red"}])
    today = Message.objects.get(agent=agent).created_at.date().isoformat()
    recall = owner_client.get(reverse("recall", args=[agent.pk]), {"start": today, "end": today}).content.decode()
    assert "my bike is red" in recall and "1 found" in recall
    owner_client.post(reverse("archival-add", args=[agent.pk]), {"text": "The spare key is under the mat."})
    found = owner_client.get(reverse("archival", args=[agent.pk]), {"q": "where is the key"}).content.decode()
    assert "spare key is under the mat" in found
    passage = agent.passages.get()
    owner_client.post(reverse("archival-delete", args=[agent.pk, passage.pk]))
    assert not agent.passages.exists()


def test_actions_undo_and_reset(owner_client, agent):
    messages_append(agent_id=agent.pk, owner_id=agent.owner_id, messages=[
        {"role": "user", "kind": "user_message", "content": "{}", "text": "one"},
        {"role": "assistant", "kind": "assistant", "content": "", "text": "reply"},
        {"role": "user", "kind": "user_message", "content": "{}", "text": "two"}])
    response = owner_client.post(reverse("agent-action", args=[agent.pk, "undo"]), HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert list(Message.objects.filter(agent=agent).values_list("text", flat=True)) == ["one", "reply"]
    owner_client.post(reverse("agent-action", args=[agent.pk, "reset"]))
    assert not Message.objects.filter(agent=agent, in_context=True).exists()
    assert Message.objects.filter(agent=agent).count() == 2  # recall memory keeps them


def test_tags_set_in_the_settings_filter_the_agents_page_and_are_escaped(owner_client, agent):
    other = agent_create(owner=agent.owner, name="Max")
    response = owner_client.post(reverse("agent-settings", args=[agent.pk]), {
        "name": "Sam", "description": "", "tags": "chess, <b>bold</b>, chess", "model": "", "system": agent.system,
        "context_window": agent.context_window, "temperature": 0.7, "max_steps": 10, "warning_share": 0.7,
        "evict_share": 0.5, "completion_reserve": 1024, "tool_protocol": "native"})
    assert response.status_code == 200
    agent.refresh_from_db()
    assert agent.tags == ["chess", "<b>bold</b>"]
    page = owner_client.get(reverse("home")).content.decode()
    assert "<b>bold</b>" not in page and "&lt;b&gt;bold&lt;/b&gt;" in page
    assert f'href="/?tag=chess"' in page
    chess = owner_client.get(reverse("home"), {"tag": "chess"}).content.decode()
    assert reverse("agent", args=[agent.pk]) in chess and reverse("agent", args=[other.pk]) not in chess
    assert "No agent is tagged nothing." in owner_client.get(reverse("home"), {"tag": "nothing"}).content.decode()
