"""Agent files in the browser, with Django's test client: Download on the agent page, the Import
page (a good file makes a new agent and opens it; a bad one comes back with what is wrong), escaping,
and nobody else's agents."""

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from agents.models import Agent
from agents.services import agent_create
from memory.models import Block, Message
from tests.factories import make_message, make_user

pytestmark = pytest.mark.django_db
XSS = "<script>alert('x')</script>"
ESCAPED = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"


@pytest.fixture
def agent(db):
    agent = agent_create(owner=make_user(), name=f"Sam {XSS}", persona="I am Sam.", human="Name: Ada")
    make_message(agent, text="I like chess")
    return agent


@pytest.fixture
def owner_client(client, agent):
    client.force_login(agent.owner)
    return client


def upload(client, content: bytes, **fields):
    return client.post(reverse("agent-import"), {"file": SimpleUploadedFile("sam.af", content), **fields})


def test_download_gives_the_agent_file(owner_client, agent):
    page = owner_client.get(reverse("agent", args=[agent.pk])).content.decode()
    assert f'href="/agents/{agent.pk}/export"' in page and ">Download</a>" in page

    response = owner_client.get(reverse("agent-export", args=[agent.pk]))

    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == f'attachment; filename="sam-scriptalertxscript-{agent.pk}.af"'
    file = json.loads(response.content)
    [spec] = file["agents"]
    assert spec["name"] == agent.name
    assert {b["label"]: b["value"] for b in file["blocks"]} == {"persona": "I am Sam.", "human": "Name: Ada"}
    assert any("I like chess" in json.dumps(m) for m in spec["messages"])


def test_someone_else_cannot_download_or_needs_to_log_in(client, agent):
    assert client.get(reverse("agent-export", args=[agent.pk])).status_code == 302  # to the login page
    client.force_login(make_user())
    assert client.get(reverse("agent-export", args=[agent.pk])).status_code == 404


def test_import_makes_a_new_agent_and_opens_it(owner_client, agent):
    exported = owner_client.get(reverse("agent-export", args=[agent.pk])).content
    form = owner_client.get(reverse("agent-import"))
    assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.content.decode()
    assert f'href="{reverse("agent-import")}"' in owner_client.get(reverse("home")).content.decode()

    response = upload(owner_client, exported, name="Sam again")

    copy = Agent.objects.get(owner=agent.owner, name="Sam again")
    assert response.status_code == 302 and response["Location"] == reverse("agent", args=[copy.pk])
    assert copy.pk != agent.pk
    assert {b.label: b.value for b in Block.objects.filter(blockattachment__agent=copy)} == {
        "persona": "I am Sam.", "human": "Name: Ada"}
    assert Message.objects.filter(agent=copy, text="I like chess").exists()
    assert "<h1>Sam again</h1>" in owner_client.get(response["Location"]).content.decode()

    upload(owner_client, exported, strip_messages="on")
    stripped = Agent.objects.filter(owner=agent.owner, name=agent.name).exclude(pk=agent.pk).get()
    assert not Message.objects.filter(agent=stripped).exists()


@pytest.mark.parametrize("content, words", [
    (b"not json at all", "This is not a JSON agent file"),
    (b"[1, 2]", "holds no JSON object"),
    (json.dumps({"agents": []}).encode(), "agents"),
    (b"\xff\xfe", "This is not a JSON agent file"),
    (json.dumps({"agents": [{"id": "agent-0", "name": "x\u0000"}]}).encode(), "NUL character"),
])
def test_a_bad_file_comes_back_with_what_is_wrong(owner_client, agent, content, words):
    agents = Agent.objects.count()
    response = upload(owner_client, content)
    html = response.content.decode()
    assert response.status_code == 422 and 'class="error"' in html and words in html, html
    assert Agent.objects.count() == agents


def test_what_a_file_says_is_escaped_in_the_errors(owner_client, agent):
    file = json.loads(owner_client.get(reverse("agent-export", args=[agent.pk])).content)
    file["agents"][0]["block_ids"] = [XSS]
    response = upload(owner_client, json.dumps(file).encode())
    html = response.content.decode()
    assert response.status_code == 422 and "the block" in html
    assert XSS not in html and ESCAPED in html


def test_no_file_is_an_error_in_place(owner_client):
    response = owner_client.post(reverse("agent-import"), {})
    assert response.status_code == 422 and "This field is required." in response.content.decode()
