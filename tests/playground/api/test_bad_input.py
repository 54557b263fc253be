"""Bad input to /v1 gets a clear JSON error and loses nothing (in-process): messages too long for the
setting or the agent's window, NUL characters and lone surrogates anywhere in a body or a query,
junk in every query parameter, and the upload quota."""

import json

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from agents.models import Run
from agents.services import agent_create
from memory.models import Block, Document, Passage, Source
from memory.services import source_create
from playground.api import serializers as s
from tests.factories import make_message, make_passage, make_run, make_step, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return make_user(username="ada")


@pytest.fixture
def api_client(user, settings):
    settings.LLM_MODEL = "gpt-4o-mini"  # configured: a message is refused for itself, not for a missing model
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {Token.objects.create(user=user).key}")
    client.raise_request_exception = False  # a 500 is an answer to look at
    return client


@pytest.fixture
def agent(user):
    return agent_create(owner=user, name="Sam")


def post(client, path: str, body: dict, method: str = "post"):
    # json.dumps writes a lone surrogate as the escape "\ud800": valid JSON that is no text
    return getattr(client, method)(path, json.dumps(body), content_type="application/json")


def error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    return response.json()


def test_a_message_over_message_max_chars_is_413_with_the_limit(api_client, agent, settings):
    settings.MESSAGE_MAX_CHARS = 1000
    for route, extra in (("messages", {}), ("messages", {"streaming": True}), ("messages/stream", {}),
                         ("messages/async", {})):
        response = post(api_client, f"/v1/agents/agent-{agent.pk}/{route}", {"input": "x" * 1001, **extra})
        body = error(response, 413)
        assert body == {"detail": "The message has 1001 characters; the limit is 1000 (MESSAGE_MAX_CHARS).",
                        "code": "message_too_long"}, route
    assert not Run.objects.exists()
    assert post(api_client, f"/v1/agents/agent-{agent.pk}/messages/async", {"input": "x" * 1000}).status_code == 200


def test_a_message_too_large_for_the_agents_context_window_is_413(api_client, agent):
    agent.context_window, agent.completion_reserve = 2048, 1024
    agent.save()
    for route in ("messages", "messages/stream", "messages/async"):
        body = error(post(api_client, f"/v1/agents/agent-{agent.pk}/{route}", {"input": "word " * 600}), 413)
        assert body["code"] == "message_too_long"
        assert "tokens; Sam's context window of 2048 tokens takes 512 at most in one message" in body["detail"], route
    assert not Run.objects.exists()


BAD_TEXT = {"nul": "bad\x00text", "surrogate": "bad\ud800text"}


@pytest.mark.parametrize("bad", BAD_TEXT.values(), ids=BAD_TEXT.keys())
def test_nul_and_lone_surrogates_are_refused_in_every_body_with_nothing_stored(api_client, user, agent, bad):
    block = agent.blocks.get(label="human")
    folder = source_create(owner=user, name="docs")
    a = f"/v1/agents/agent-{agent.pk}"
    requests = [
        ("post", "/v1/blocks/", {"label": "notes", "value": bad}),
        ("post", "/v1/blocks/", {"label": "notes", "value": "", "description": bad}),
        ("post", "/v1/blocks/", {"label": bad, "value": ""}),
        ("patch", f"/v1/blocks/block-{block.pk}", {"value": bad}),
        ("patch", f"{a}/core-memory/blocks/human", {"description": bad}),
        ("post", "/v1/agents/", {"name": bad}),
        ("post", "/v1/agents/", {"name": "Kit", "memory_blocks": [{"label": "human", "value": bad}]}),
        ("post", "/v1/agents/", {"name": "Kit", "system": bad}),
        ("patch", a, {"name": bad}),
        ("post", f"{a}/archival-memory", {"text": bad}),
        ("post", f"{a}/archival-memory", {"text": "fine", "tags": [bad]}),
        ("post", f"{a}/messages", {"input": bad}),
        ("post", f"{a}/messages", {"messages": [{"role": "user", "content": [{"type": "text", "text": bad}]}]}),
        ("post", f"{a}/messages/stream", {"input": bad}),
        ("post", "/v1/messages/search", {"query": bad}),
        ("post", "/v1/passages/search", {"query": bad}),
        ("post", "/v1/folders/", {"name": bad}),
        ("patch", f"/v1/folders/source-{folder.pk}", {"description": bad}),
        ("post", "/v1/blocks/", {"label": "notes", "value": "", bad: 1}),  # a key is text too
    ]
    for method, path, body in requests:
        detail = error(post(api_client, path, body, method), 400)["detail"]
        assert "holds a NUL character or a lone surrogate, which text cannot hold" in detail, (path, body)
    assert block.value == Block.objects.get(pk=block.pk).value and Block.objects.count() == 2
    assert not Passage.objects.exists() and not Run.objects.exists() and Source.objects.get() == folder
    assert user.agents.get().name == "Sam"


def test_nul_characters_in_query_parameters_are_400(api_client, agent):
    a = f"/v1/agents/agent-{agent.pk}"
    for path in ("/v1/agents/?name=a%00b", "/v1/agents/?query_text=%00", "/v1/blocks/?label_search=%00",
                 f"{a}/archival-memory?search=%00", f"{a}/archival-memory/search?query=%00",
                 "/v1/agents/?tags=%00", "/v1/steps/?model=%00"):
        assert "Null characters are not allowed." in error(api_client.get(path), 400)["detail"], path


def _params(serializer) -> list[str]:
    return list(serializer().fields)


JUNK = ["abc", "%00", "-1", "99999999999999999999999", "9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00%2B14:00",
        "2024-13-45T25:61", "x" * 2000]


def test_junk_in_any_query_parameter_is_never_a_server_error(api_client, user, agent, monkeypatch):
    """Every GET route with each of its parameters set to junk, one at a time."""
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "100000/minute", "anon": "100000/minute"})
    cache.clear()
    run = make_run(agent)
    step = make_step(run)
    make_message(agent, run=run)
    passage = make_passage(agent)
    folder = source_create(owner=user, name="docs")
    a = f"/v1/agents/agent-{agent.pk}"
    routes = {
        "/v1/agents/": s.AgentListQuery, f"{a}/export": s.ExportQuery, f"{a}/core-memory/blocks": s.ListQuery,
        "/v1/blocks/": s.BlockListQuery, f"/v1/blocks/block-{agent.blocks.first().pk}/agents": s.ListQuery,
        f"{a}/archival-memory": s.PassageListQuery, f"{a}/archival-memory/search": s.ArchivalSearchQuery,
        f"{a}/messages": s.MessageListQuery, f"{a}/folders": s.ListQuery, "/v1/runs/": s.RunListQuery,
        f"/v1/runs/run-{run.pk}/messages": s.ListQuery, f"/v1/runs/run-{run.pk}/steps": s.ListQuery,
        "/v1/steps/": s.StepListQuery, f"/v1/steps/step-{step.pk}/messages": s.ListQuery,
        "/v1/folders/": s.ListQuery, f"/v1/folders/source-{folder.pk}/files": s.ListQuery,
        f"/v1/folders/source-{folder.pk}/agents": s.ListQuery,
    }
    answers = set()
    for path, query in routes.items():
        for name in _params(query):
            for junk in JUNK:
                response = api_client.get(f"{path}?{name}={junk}" + ("&query=a" if "search" in path else ""))
                # 404: an agent_id that names no agent of yours
                assert response.status_code in (200, 400, 404), (path, name, junk, response.content[:300])
                assert response["Content-Type"] == "application/json"
                answers.add(response.status_code)
    cache.clear()
    assert answers == {200, 400, 404}
    assert passage.text  # (the rows the lists show are there)


def test_dates_out_of_range_and_cursors_are_400(api_client, agent):
    for value in ("9999-12-31T23:59:59-12:00", "0001-01-01T00:00:00%2B14:00"):
        body = error(api_client.get(f"/v1/steps/?start_date={value}"), 400)
        assert "start_date" in body["errors"], value
    body = error(post(api_client, "/v1/messages/search", {"query": "hi", "end_date": "9999-12-31T23:59:59-12:00"}), 400)
    assert "end_date" in body["errors"]
    assert api_client.get("/v1/steps/?start_date=9999-12-31T23:59:59Z").status_code == 200
    assert "Not an id of this list" in error(api_client.get("/v1/agents/?after=agent-abc"), 400)["detail"]
    assert "Not an id of this list" in error(api_client.get(f"/v1/agents/?before=agent-{2**64}"), 400)["detail"]


def test_an_upload_over_the_quota_is_413_with_the_numbers(api_client, user, media, settings):
    settings.UPLOAD_QUOTA_BYTES = 2048
    folder = source_create(owner=user, name="docs")
    path = f"/v1/folders/source-{folder.pk}/upload"
    assert api_client.post(path, {"file": SimpleUploadedFile("one.txt", b"a" * 1500)}, format="multipart").status_code == 200
    response = api_client.post(path, {"file": SimpleUploadedFile("two.txt", b"b" * 1000)}, format="multipart")
    assert error(response, 413) == {"code": "quota_exceeded", "detail": (
        "This file (1000 bytes) does not fit in your storage quota: 1.5 KB of 2.0 KB are in use (UPLOAD_QUOTA_BYTES). "
        "Delete documents to make room.")}
    assert list(Document.objects.values_list("filename", flat=True)) == ["one.txt"]


def test_an_idempotency_key_must_be_a_key(api_client, agent):
    path = f"/v1/agents/agent-{agent.pk}/messages/async"
    for key in ("", " ", "k" * 256):
        response = api_client.post(path, {"input": "hi"}, format="json", HTTP_IDEMPOTENCY_KEY=key)
        assert "Idempotency-Key: A key of 1 to 255 characters." in error(response, 400)["detail"], key
    assert not Run.objects.exists()


def test_an_idempotency_key_queues_one_run(api_client, agent):
    """The service's side (the live tests below wait for turns): the same key gets the same run, another
    message with it is a conflict, and the message's otid serves as a key when no header gives one."""
    path = f"/v1/agents/agent-{agent.pk}/messages/async"
    first = api_client.post(path, {"input": "hi"}, format="json", HTTP_IDEMPOTENCY_KEY="k1").json()
    again = api_client.post(path, {"input": "hi"}, format="json", HTTP_IDEMPOTENCY_KEY="k1").json()
    assert first["id"] == again["id"] and Run.objects.count() == 1
    body = error(api_client.post(path, {"input": "other"}, format="json", HTTP_IDEMPOTENCY_KEY="k1"), 409)
    assert body["code"] == "idempotency_key_reused" and f"queued run {first['id'].removeprefix('run-')}" in body["detail"]
    other = agent_create(owner=agent.owner, name="Kit")  # a key belongs to one agent
    api_client.post(f"/v1/agents/agent-{other.pk}/messages/async", {"input": "hi"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert Run.objects.count() == 2
    message = {"messages": [{"role": "user", "content": "hello", "otid": "otid-1"}]}
    assert api_client.post(path, message, format="json").json()["id"] == api_client.post(path, message, format="json").json()["id"]
    assert Run.objects.count() == 3


def test_an_agent_file_holding_a_lone_surrogate_is_400_and_imports_nothing(api_client, user, agent):
    file = api_client.get(f"/v1/agents/agent-{agent.pk}/export").json()
    file["blocks"][0]["value"] = "bad\ud800text"
    upload = SimpleUploadedFile("sam.af", json.dumps(file).encode())
    response = api_client.post("/v1/agents/import", {"file": upload}, format="multipart")
    assert "blocks.0.value holds a NUL character or a lone surrogate" in error(response, 400)["detail"]
    assert user.agents.count() == 1
