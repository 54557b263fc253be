"""Replays through the API: on the live stack (its worker sends the request), POST /v1/steps/{id}/replay
answers the new answer beside the stored one; the replays are listed under the step; nobody reaches
another user's."""

import httpx
import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from agents.models import StepReplay
from playground.api.views import replays
from tests.factories import make_agent, make_run, make_step, make_user
from tests.fake_llm import tool_call

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def step(api, live_llm):
    """A step of one of the user's agents, answered "Hi Ada"; the live scripted server emptied after it."""
    agent = api.sdk.agents.create(name="Sam", model="openai/gpt-4o-mini", memory_blocks=[
        {"label": "persona", "value": "I am Sam."}, {"label": "human", "value": "Name: Ada"}])
    live_llm.enqueue(tool_call("send_message", {"message": "Hi Ada"}, content="A greeting."))
    response = api.sdk.agents.messages.create(agent.id, messages=[{"role": "user", "content": "hello"}])
    [step] = api.http.get(f"/v1/runs/{response.messages[0].run_id}/steps").json()
    live_llm.reset()
    return step


def test_a_replay_answers_beside_the_stored_step(api, live_llm, step):
    live_llm.enqueue(tool_call("send_message", {"message": "Hi Grace"}, content="A greeting."))

    answer = api.http.post(f"/v1/steps/{step['id']}/replay",
                           json={"temperature": 0.5, "block_values": {"human": "Name: Grace"}})

    assert answer.status_code == 200, answer.text
    replay = answer.json()
    assert replay["id"].startswith("replay-") and replay["step_id"] == step["id"] and replay["status"] == "done"
    assert replay["changes"] == {"temperature": 0.5, "blocks": {"human": "Name: Grace"}}
    [sent] = live_llm.chat_requests()
    assert sent["temperature"] == 0.5 and "<value>\nName: Grace\n</value>" in sent["messages"][0]["content"]
    comparison = replay["comparison"]
    assert comparison["stored"]["content"] == comparison["new"]["content"] == "A greeting."
    [call] = comparison["tool_calls_diff"]
    assert call["name"] == "same"
    assert call["arguments"] == [{"key": "message", "change": "changed", "stored": "Hi Ada", "new": "Hi Grace"}]
    assert comparison["tokens"]["ours"]["stored"] == step["tokens"]["prompt_total"]
    assert comparison["tokens"]["ours"]["new"] > 0

    listed = api.http.get(f"/v1/steps/{step['id']}/replays").json()
    assert [r["id"] for r in listed] == [replay["id"]]
    assert api.http.get(f"/v1/replays/{replay['id']}").json() == replay
    # the agent did not take part: still its one run, and its block as it was
    agent = api.http.get(f"/v1/agents/{step['agent_id']}").json()
    assert next(b for b in agent["memory"]["blocks"] if b["label"] == "human")["value"] == "Name: Ada"
    assert len(api.http.get("/v1/runs/", params={"agent_id": step["agent_id"]}).json()) == 1


def test_changes_that_cannot_be_made_answer_400(api, step):
    answer = api.http.post(f"/v1/steps/{step['id']}/replay", json={"block_values": {"nobody": "x"}})
    assert answer.status_code == 400 and "No block labelled 'nobody'" in answer.json()["detail"]
    assert api.http.post(f"/v1/steps/{step['id']}/replay", json={"temperature": 9}).status_code == 400
    assert api.http.post(f"/v1/steps/{step['id']}/replay", json={"tools": ["launch_rockets"]}).status_code == 400
    assert api.http.get(f"/v1/steps/{step['id']}/replays").json() == []


def test_nobody_replays_another_users_step(api, other, live_llm, step):
    live_llm.enqueue(tool_call("send_message", {"message": "Hi"}))
    replay = api.http.post(f"/v1/steps/{step['id']}/replay", json={}).json()
    assert other.http.post(f"/v1/steps/{step['id']}/replay", json={"temperature": 1}).status_code == 404
    assert other.http.get(f"/v1/steps/{step['id']}/replays").status_code == 404
    assert other.http.get(f"/v1/replays/{replay['id']}").status_code == 404
    assert api.http.get("/v1/replays/replay-987654321").status_code == 404
    assert StepReplay.objects.count() == 1


def test_the_schema_has_the_replay_routes(live):
    paths = httpx.get(f"{live.url}/v1/openapi.json").json()["paths"]
    assert {"200", "202"} <= set(paths["/v1/steps/{step_id}/replay"]["post"]["responses"])
    assert "get" in paths["/v1/steps/{step_id}/replays"]
    assert "get" in paths["/v1/replays/{replay_id}"]


def test_a_replay_that_takes_longer_answers_202_to_poll(settings, monkeypatch, redis_available):
    """No worker here: the replay stays queued past the wait."""
    settings.LLM_TIMEOUT = 0.3
    monkeypatch.setattr(replays, "QUEUE_SECONDS", 0)
    user = make_user()
    step = make_step(make_run(make_agent(owner=user)))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {Token.objects.create(user=user).key}")

    answer = client.post(f"/v1/steps/step-{step.pk}/replay", {"temperature": 0.2}, format="json")

    assert answer.status_code == 202, answer.content
    replay = answer.json()
    assert replay["status"] == "queued" and replay["comparison"] is None
    assert client.get(f"/v1/replays/{replay['id']}").json()["status"] == "queued"
