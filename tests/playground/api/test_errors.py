"""Errors are JSON with the right status, never an HTML page or a 500 for bad input (in-process)."""

import json

import pytest
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from agents.models import Run
from agents.services import agent_create
from memory.services import source_create
from tests.factories import make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def user():
    return make_user(username="ada")


@pytest.fixture
def api_client(user):
    client = APIClient(HTTP_ACCEPT="text/html")  # as a browser asks: errors must still be JSON
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {Token.objects.create(user=user).key}")
    return client


def error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["detail"] and body["code"]
    return body


def test_authentication(user):
    anonymous = APIClient()
    response = anonymous.get("/v1/agents/")
    assert "credentials were not provided" in error(response, 401)["detail"]
    assert response["WWW-Authenticate"] == "Bearer"
    anonymous.credentials(HTTP_AUTHORIZATION="Bearer not-a-token")
    error(anonymous.get("/v1/agents/"), 401)
    key = Token.objects.create(user=user).key
    anonymous.credentials(HTTP_AUTHORIZATION=f"Token {key}")  # DRF's own keyword works too
    assert anonymous.get("/v1/agents/").status_code == 200
    browser = APIClient()
    browser.force_login(user)  # the pages' session
    assert browser.get("/v1/agents/").status_code == 200


def test_bad_input_is_400_with_what_was_wrong(api_client):
    body = error(api_client.post("/v1/agents/", "{not json", content_type="application/json"), 400)
    assert "JSON parse error" in body["detail"]
    body = error(api_client.post("/v1/blocks/", {"label": "x"}, format="json"), 400)
    assert body["detail"] == "Invalid request: value: This field is required."
    assert body["errors"] == {"value": ["This field is required."]}
    body = error(api_client.post("/v1/agents/", {"memory_blocks": [{"label": "a b", "value": ""}]}, format="json"), 400)
    assert body["detail"].startswith("Invalid request: memory_blocks.0.label: A label may hold")
    error(api_client.post("/v1/blocks/", {"label": "x", "value": "nul\x00"}, format="json"), 400)
    error(api_client.get("/v1/agents/?limit=0"), 400)
    error(api_client.get("/v1/agents/?after=block-1"), 400)
    error(api_client.post("/v1/blocks/", "label=x", content_type="text/plain"), 415)


def test_not_found_and_method_not_allowed(api_client):
    assert error(api_client.get("/v1/agents/agent-99999"), 404)["detail"] == "No such agent."
    assert "No agent with id 'nonsense'" in error(api_client.get("/v1/agents/nonsense"), 404)["detail"]
    error(api_client.get(f"/v1/agents/agent-{2**64}"), 404)
    assert error(api_client.get("/v1/no/such/route"), 404)["code"] == "not_found"
    error(api_client.delete("/v1/agents/"), 405)


def test_conflicts_are_409_and_not_retried(api_client, user):
    source_create(owner=user, name="docs")
    response = api_client.post("/v1/folders/", {"name": "docs"}, format="json")
    assert "already have a folder named 'docs'" in error(response, 409)["detail"]
    assert response["x-should-retry"] == "false"


def test_too_large_is_413(api_client, user, settings):
    settings.UPLOAD_MAX_BYTES = 1024
    folder = source_create(owner=user, name="docs")
    response = api_client.post(f"/v1/folders/source-{folder.pk}/upload",
                           {"file": SimpleUploadedFile("big.txt", b"x" * 5000)}, format="multipart")
    assert "the limit is" in error(response, 413)["detail"]
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    error(api_client.post("/v1/blocks/", {"label": "x", "value": "y" * 2000}, format="json"), 413)


def test_no_llm_configured_is_503_and_queues_nothing(api_client, user, settings):
    settings.LLM_MODEL = ""
    agent = agent_create(owner=user, name="Sam")
    response = api_client.post(f"/v1/agents/agent-{agent.pk}/messages", {"input": "hi"}, format="json")
    body = error(response, 503)
    assert "set LLM_MODEL" in body["detail"] and body["code"] == "llm_not_configured"
    assert response["x-should-retry"] == "false"
    error(api_client.post(f"/v1/agents/agent-{agent.pk}/messages", {"input": "hi", "streaming": True}, format="json"), 503)
    assert not Run.objects.exists()


def test_rate_limited_is_429(api_client, monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"user": "3/minute", "anon": "3/minute"})
    cache.clear()
    try:
        statuses = [api_client.get("/v1/tools/").status_code for _ in range(4)]
        response = api_client.get("/v1/tools/")
    finally:
        cache.clear()
    assert statuses == [200, 200, 200, 429]
    assert "throttled" in error(response, 429)["detail"]
    assert int(response["Retry-After"]) > 0


def test_export_is_a_json_file(api_client, user):
    agent = agent_create(owner=user, name="Sam")
    response = api_client.get(f"/v1/agents/agent-{agent.pk}/export")
    assert response.status_code == 200 and response["Content-Disposition"] == f'attachment; filename="agent-{agent.pk}.af"'
    assert json.loads(response.content)["agents"][0]["name"] == "Sam"
    error(api_client.get(f"/v1/agents/agent-{agent.pk}/export?use_legacy_format=true"), 400)
