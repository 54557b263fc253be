"""Forks through the API, on the live stack: POST /v1/agents/{id}/fork answers the fork as GET would,
and POST /v1/agents/{id}/continue makes the step again, byte for byte."""

import httpx
import pytest

from tests.fake_llm import tool_call
from tests.helpers import wait_until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def agent(api):
    return api.sdk.agents.create(name="Sam", model="openai/gpt-4o-mini", memory_blocks=[
        {"label": "persona", "value": "I am Sam."}, {"label": "human", "value": "Name: Ada"}])


def test_fork_and_continue_send_the_step_request_again(api, live_llm, agent):
    live_llm.enqueue(
        tool_call("core_memory_append", {"label": "human", "content": "Likes chess", "request_heartbeat": True}),
        tool_call("send_message", {"message": "Noted, Ada!"}),
    )
    response = api.sdk.agents.messages.create(agent.id, messages=[{"role": "user", "content": "I love chess"}])
    [first, second] = [r["raw"] for r in live_llm.requests if r["path"] == "/v1/chat/completions"]
    steps = api.http.get(f"/v1/runs/{response.messages[0].run_id}/steps").json()
    step = next(s for s in steps if s["index"] == 1)

    answer = api.http.post(f"/v1/agents/{agent.id}/fork", json={"step_id": step["id"]})

    assert answer.status_code == 201, answer.text
    fork = answer.json()
    assert fork["id"] != agent.id and fork["name"].startswith("Sam (fork before step 1 of run ")
    assert api.http.get(f"/v1/agents/{fork['id']}").json() == fork  # as GET answers it
    api.sdk.agents.retrieve(fork["id"])  # and in the shape the SDK validates
    human = next(b for b in fork["memory"]["blocks"] if b["label"] == "human")
    assert human["value"] == "Name: Ada\nLikes chess"  # as it was before step 1: after step 0's edit

    live_llm.reset()
    live_llm.enqueue(tool_call("send_message", {"message": "Chess it is."}))
    run = api.http.post(f"/v1/agents/{fork['id']}/continue")
    assert run.status_code == 202, run.text
    wait_until(lambda: api.sdk.runs.retrieve(run.json()["id"]).status == "completed", timeout=30)
    assert [r["raw"] for r in live_llm.requests if r["path"] == "/v1/chat/completions"] == [second]
    assert first != second
    # once taken up, nothing is pending
    assert api.http.post(f"/v1/agents/{fork['id']}/continue").status_code == 400


def test_nobody_forks_another_users_agent_or_step(api, other, live_llm, agent):
    live_llm.enqueue(tool_call("send_message", {"message": "Hi"}))
    response = api.sdk.agents.messages.create(agent.id, messages=[{"role": "user", "content": "hello"}])
    [step] = api.http.get(f"/v1/runs/{response.messages[0].run_id}/steps").json()
    assert other.http.post(f"/v1/agents/{agent.id}/fork", json={"step_id": step["id"]}).status_code == 404
    mine = other.sdk.agents.create(name="Eve", model="openai/gpt-4o-mini")
    assert other.http.post(f"/v1/agents/{mine.id}/fork", json={"step_id": step["id"]}).status_code == 404
    assert api.http.post(f"/v1/agents/{agent.id}/fork", json={}).status_code == 400


def test_the_schema_has_the_time_travel_routes(live):
    paths = httpx.get(f"{live.url}/v1/openapi.json").json()["paths"]
    assert "post" in paths["/v1/agents/{agent_id}/fork"]
    assert "post" in paths["/v1/agents/{agent_id}/continue"]
