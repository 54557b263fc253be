"""Bad input to the pages gets a clear error and loses nothing: messages too long for the setting or
for the agent's window, NUL characters in whatever people type, and junk in the parameters the
pages send themselves (Django's test client, in-process)."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from agents.models import Run
from agents.services import agent_create
from memory.models import Document, Passage, Source
from memory.services import messages_append, source_create
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def agent(db, settings):
    settings.LLM_MODEL = "gpt-4o-mini"  # configured: a message is refused for itself, not for a missing model
    return agent_create(owner=make_user(), name="Sam", persona="I am Sam.", human="Ada.")


@pytest.fixture
def owner_client(client, agent):
    client.force_login(agent.owner)
    client.raise_request_exception = False  # a 500 is an answer to look at, not an exception in the test
    return client


def send(client, agent, text: str):
    return client.post(reverse("agent-send", args=[agent.pk]), {"text": text}, HTTP_HX_REQUEST="true")


def test_a_message_over_message_max_chars_comes_back_in_its_form_with_the_limit(owner_client, agent, settings):
    settings.MESSAGE_MAX_CHARS = 1000
    response = send(owner_client, agent, "x" * 1001)
    assert response.status_code == 422
    page = response.content.decode()
    assert "The message has 1,001 characters; the limit is 1,000." in page
    assert 'id="send-form"' in page and "x" * 1001 in page  # what was typed is still there, nothing lost
    assert not Run.objects.exists()
    assert send(owner_client, agent, "x" * 1000).status_code == 200


def test_a_message_too_large_for_the_agents_context_window_is_refused(owner_client, agent, settings):
    """Half of what the completion reserve leaves: 2048 - 1024 = 1024 tokens, 512 for one message. A
    larger one could never be evicted and would fail every turn after it."""
    agent.context_window, agent.completion_reserve = 2048, 1024
    agent.save()
    response = send(owner_client, agent, "word " * 600)
    assert response.status_code == 422
    page = response.content.decode()
    assert "tokens; Sam&#x27;s context window of 2048 tokens takes 512 at most in one message" in page
    assert not Run.objects.exists()
    assert send(owner_client, agent, "word " * 400).status_code == 200
    assert Run.objects.count() == 1


def test_nul_characters_are_refused_in_every_form_with_nothing_stored(owner_client, agent):
    nul = "bad\x00text"
    response = send(owner_client, agent, nul)
    assert response.status_code == 422 and "Null characters are not allowed." in response.content.decode()
    block = agent.blocks.get(label="human")
    for field in ("label", "description", "value"):
        data = {"label": "human", "description": "", "value": "Ada.", "limit": 5000, field: nul}
        response = owner_client.post(reverse("block-save", args=[agent.pk, block.pk]), data, HTTP_HX_REQUEST="true")
        assert response.status_code == 422 and "Null characters are not allowed." in response.content.decode(), field
        response = owner_client.post(reverse("block-add", args=[agent.pk]), {**data, "label": "notes", field: nul})
        assert response.status_code == 422, field
    response = owner_client.post(reverse("archival-add", args=[agent.pk]), {"text": nul})
    assert "Null characters are not allowed." in response.content.decode()
    response = owner_client.post(reverse("agent-new"), {"name": nul, "context_window": 8192}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422 and "Null characters are not allowed." in response.content.decode()
    response = owner_client.post(reverse("source-new"), {"name": nul})
    assert response.status_code == 422 and "name: Null characters are not allowed." in response.content.decode()
    response = owner_client.post(reverse("source-new"), {"name": "docs", "description": nul})
    assert response.status_code == 422 and "description: Null characters" in response.content.decode()
    response = owner_client.post(reverse("source-new"), {"name": "x" * 201})
    assert response.status_code == 422 and "at most 200 characters" in response.content.decode()
    assert agent.blocks.get(label="human").value == "Ada." and agent.blocks.count() == 2
    assert not Run.objects.exists() and not Passage.objects.exists() and not Source.objects.exists()
    assert agent.owner.agents.count() == 1


def test_search_queries_with_a_nul_character_say_so(owner_client, agent):
    response = owner_client.get(reverse("archival", args=[agent.pk]) + "?q=key%00")
    assert response.status_code == 422 and "Null characters are not allowed." in response.content.decode()
    response = owner_client.get(reverse("recall", args=[agent.pk]) + "?q=key%00")
    assert response.status_code == 422 and "Null characters are not allowed." in response.content.decode()


def test_malformed_parameters_answer_400_not_500(owner_client, agent):
    messages_append(agent_id=agent.pk, owner_id=agent.owner_id,
                    messages=[{"role": "user", "kind": "user_message", "content": "{}", "text": "hello"}])
    history = reverse("agent-history", args=[agent.pk])
    for before in ("abc", "", "-1", "0", "1e3", str(2**63), "%00"):
        assert owner_client.get(f"{history}?before={before}").status_code == 400, before
    assert owner_client.get(history).status_code == 400
    assert owner_client.get(f"{history}?before={2**63 - 1}").status_code == 200
    share = reverse("block-share", args=[agent.pk])
    for block in ("abc", "", str(2**64), "1.5"):
        assert owner_client.post(share, {"block": block}).status_code == 400, block
    source = source_create(owner=agent.owner, name="docs")
    attach = reverse("source-agents", args=[source.pk, "attach"])
    for other in ("abc", "", str(2**64)):
        assert owner_client.post(attach, {"agent": other}).status_code == 400, other
    assert owner_client.post(attach, {"agent": agent.pk}).status_code == 200
    for page in ("abc", "-1", "0", str(2**70), "%00"):
        assert owner_client.get(reverse("archival", args=[agent.pk]) + f"?page={page}").status_code == 200, page
        assert owner_client.get(reverse("traces", args=[agent.pk]) + f"?page={page}").status_code == 200, page


def test_recall_dates_at_the_edges_of_the_calendar_or_not_dates(owner_client, agent):
    messages_append(agent_id=agent.pk, owner_id=agent.owner_id,
                    messages=[{"role": "user", "kind": "user_message", "content": "{}", "text": "my bike is red"}])
    recall = reverse("recall", args=[agent.pk])
    page = owner_client.get(recall, {"start": "0001-01-01", "end": "9999-12-31"})
    assert page.status_code == 200 and "my bike is red" in page.content.decode()  # until the end of time
    page = owner_client.get(recall, {"start": "9999-12-31", "end": "9999-12-31"})
    assert page.status_code == 200 and "Nothing matched." in page.content.decode()
    for start, end in (("abc", ""), ("", "10000-01-01"), ("2024-13-45", ""), ("0000-00-00", "%00")):
        page = owner_client.get(recall, {"start": start, "end": end})
        assert page.status_code == 422 and "Enter a valid date." in page.content.decode(), (start, end)


def test_the_sources_page_says_when_the_upload_quota_is_full(owner_client, agent, media, settings):
    settings.UPLOAD_QUOTA_BYTES = 2048
    source = source_create(owner=agent.owner, name="docs")
    files = [SimpleUploadedFile("one.txt", b"a" * 1500), SimpleUploadedFile("two.txt", b"b" * 1000)]
    response = owner_client.post(reverse("source-upload", args=[source.pk]), {"files": files}, HTTP_HX_REQUEST="true")
    assert response.status_code == 422
    page = response.content.decode()
    assert ("This file (1000 bytes) does not fit in your storage quota: 1.5 KB of 2.0 KB are in use "
            "(UPLOAD_QUOTA_BYTES).") in page
    assert "one.txt" in page  # the file before it is stored, and listed
    assert list(Document.objects.values_list("filename", flat=True)) == ["one.txt"]
