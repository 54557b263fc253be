"""Nobody reaches another user's data: every route with another user's id answers 404."""

import re

import pytest

from tests.factories import make_replay_and_rewind
from tests.fake_llm import tool_call

pytestmark = pytest.mark.django_db(transaction=True)

BODIES = {  # a valid body for each write, so that only the id can make it fail
    ("post", "/v1/agents/{agent_id}/messages"): {"input": "hi"},
    ("post", "/v1/agents/{agent_id}/messages/stream"): {"input": "hi"},
    ("post", "/v1/agents/{agent_id}/messages/async"): {"input": "hi"},
    ("post", "/v1/agents/{agent_id}/archival-memory"): {"text": "a passage"},
    ("patch", "/v1/agents/{agent_id}"): {"name": "stolen"},
    ("patch", "/v1/agents/{agent_id}/core-memory/blocks/{block_label}"): {"value": "stolen"},
    ("patch", "/v1/blocks/{block_id}"): {"value": "stolen"},
    ("patch", "/v1/folders/{folder_id}"): {"name": "stolen"},
}
QUERIES = {"/v1/agents/{agent_id}/archival-memory/search": {"query": "secret"}}


@pytest.fixture
def theirs(other, live_llm):
    """Everything another user can own, by the id kinds of the routes."""
    agent = other.sdk.agents.create(name="Max", memory_blocks=[{"label": "human", "value": "secret"}])
    block = other.sdk.blocks.create(label="notes", value="secret notes")
    [passage] = other.sdk.agents.passages.create(agent.id, text="a secret passage")
    live_llm.enqueue(tool_call("send_message", {"message": "secret answer"}))
    response = other.sdk.agents.messages.create(agent.id, input="secret question")
    run_id = response.usage.run_ids[0]
    [step] = other.sdk.runs.steps.list(run_id).items
    folder = other.sdk.folders.create(name="secret folder")
    file = other.sdk.folders.files.upload(folder.id, file=("secret.txt", b"secret text"))
    tool = other.sdk.tools.create(source_code='def secret_tool() -> str:\n    """A secret."""\n    return "secret"\n')
    other.sdk.agents.tools.attach(tool.id, agent_id=agent.id)
    group = other.http.post("/v1/groups/", json={"agent_ids": [agent.id]}).json()
    wakeup = other.sdk.agents.schedule.create(agent.id, schedule={"type": "recurring", "cron_expression": "@daily"},
                                              messages=[{"role": "user", "content": "secret reminder"}])
    provider = other.http.post("/v1/providers/", json={"name": "secret-box", "base_url": "http://127.0.0.1:9/v1",
                                                       "api_key": "sk-secret"}).json()
    replay, rewind = make_replay_and_rewind(step.id)
    return {"provider_id": provider["id"], "agent_id": agent.id, "block_id": block.id, "block_label": "human",
            "memory_id": passage.id, "replay_id": replay, "rewind_id": rewind,
            "message_id": response.messages[0].id, "run_id": run_id, "step_id": step.id, "folder_id": folder.id,
            "file_id": file.id, "tool_id": tool.id, "tool_name": tool.name, "group_id": group["id"],
            "scheduled_message_id": wakeup.id}


def routes(api) -> list[tuple[str, str]]:
    schema = api.http.get("/v1/openapi.json").json()
    return [(method, path) for path, operations in schema["paths"].items() for method in operations if "{" in path]


def test_every_route_with_another_users_id_answers_404(api, other, theirs):
    checked = []
    for method, path in routes(api):
        url = re.sub(r"{(\w+)}", lambda m: theirs[m[1]], path)
        body = BODIES.get((method, path))
        if path.endswith("/upload"):
            response = api.http.post(url, files={"file": ("x.txt", b"x")})
        elif path == "/v1/agents/{agent_id}/messages" and method == "post":
            response = api.http.post(url, json=body)
        else:
            response = api.http.request(method.upper(), url, json=body, params=QUERIES.get(path))
        assert response.status_code == 404, (method, url, response.status_code, response.text)
        assert response.headers["content-type"] == "application/json"
        assert "secret" not in response.text
        checked.append((method, path))
        if method == "get":  # the same request by the owner works: the id was real
            assert other.http.get(url, params=QUERIES.get(path)).status_code == 200, url
    assert len(checked) >= 40


def test_ids_in_bodies_and_filters_answer_404_too(api, theirs):
    mine = api.sdk.agents.create(name="Ada", memory_blocks=[])
    requests = [
        ("POST", "/v1/passages/search", {"agent_id": theirs["agent_id"], "query": "secret"}),
        ("POST", "/v1/messages/search", {"agent_id": theirs["agent_id"], "query": "secret"}),
        ("GET", f"/v1/runs/?agent_id={theirs['agent_id']}", None),
        ("GET", f"/v1/steps/?agent_id={theirs['agent_id']}", None),
        ("POST", "/v1/agents/", {"name": "x", "block_ids": [theirs["block_id"]]}),
        ("POST", "/v1/agents/", {"name": "x", "folder_ids": [theirs["folder_id"]]}),
        ("PATCH", f"/v1/agents/{mine.id}", {"block_ids": [theirs["block_id"]]}),
        ("PATCH", f"/v1/agents/{mine.id}/core-memory/blocks/attach/{theirs['block_id']}", None),
        ("PATCH", f"/v1/agents/{mine.id}/folders/attach/{theirs['folder_id']}", None),
    ]
    for method, url, body in requests:
        response = api.http.request(method, url, json=body)
        assert response.status_code == 404, (method, url, response.text)


def test_lists_and_searches_hold_only_your_own(api, theirs):
    api.sdk.agents.create(name="Ada", memory_blocks=[{"label": "human", "value": "mine"}])
    for url in ["/v1/agents/", "/v1/blocks/", "/v1/runs/", "/v1/steps/", "/v1/folders/"]:
        response = api.http.get(url)
        assert response.status_code == 200 and "secret" not in response.text and "Max" not in response.text, url
    for url, body in [("/v1/passages/search", {"query": "secret passage"}), ("/v1/messages/search", {"query": "secret"})]:
        response = api.http.post(url, json=body)
        assert response.status_code == 200 and response.json() == [], url
