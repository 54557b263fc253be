"""/v1/agents/{agent_id}/rewind, .../rewinds, .../rewinds/{id}/undo and .../confirm (in-process, with a
real worker and the scripted LLM): dry runs, a rewind and its undo, 404 for others, 409 when busy."""

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from agents.models import Rewind, Run, Step
from agents.services import agent_create, turn_enqueue
from memory.models import Message
from tests.factories import make_run, make_user
from tests.fake_llm import tool_call
from tests.helpers import wait_for_runs

pytestmark = pytest.mark.django_db(transaction=True)


def client_of(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {Token.objects.create(user=user).key}")
    return client


@pytest.fixture
def ran(llm, celery_worker):
    """An agent after one turn that edited its human block and answered: (agent, its three steps)."""
    agent = agent_create(owner=make_user(), name="Sam", persona="I am Sam.", human="")
    llm.enqueue(tool_call("core_memory_append", {"label": "human", "content": "Name: Ada", "request_heartbeat": True}),
                tool_call("archival_memory_insert", {"content": "Ada likes owls.", "request_heartbeat": True}),
                tool_call("send_message", {"message": "Hello <b>Ada</b>!"}))
    turn_enqueue(agent=agent, text="Hi, I'm Ada")
    [run] = wait_for_runs(agent)
    return agent, list(run.steps.order_by("index"))


def test_a_dry_run_lists_what_goes_and_changes_nothing(ran):
    agent, steps = ran
    api = client_of(agent.owner)
    messages = Message.objects.filter(agent=agent).count()

    response = api.post(f"/v1/agents/agent-{agent.pk}/rewind", {"step_id": f"step-{steps[1].pk}", "dry_run": True},
                        format="json")

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["id"], body["status"], body["step_id"], body["refused"]) == (None, "dry_run", f"step-{steps[1].pk}", None)
    went = Message.objects.filter(agent=agent, pk__gt=steps[1].state["last_message_id"])
    assert [m["id"] for m in body["removed"]["messages"]] == [f"message-{pk}" for pk in went.values_list("pk", flat=True)]
    assert body["counts"] == {"messages": went.count(), "block_edits": 0, "passages": 1, "runs": 0, "steps": 2,
                              "wakeups": 0}
    assert [p["id"].split("-")[0] for p in body["removed"]["passages"]] == ["passage"]
    assert body["removed"]["steps"][0] == {"id": f"step-{steps[1].pk}", "run_id": f"run-{steps[1].run_id}",
                                           "index": 1, "purpose": "agent"}
    assert body["agent"]["id"] == f"agent-{agent.pk}"
    assert Message.objects.filter(agent=agent).count() == messages and Step.objects.filter(agent=agent).count() == 3


def test_rewind_list_undo_and_confirm(ran):
    agent, steps = ran
    api = client_of(agent.owner)

    response = api.post(f"/v1/agents/agent-{agent.pk}/rewind", {"step_id": f"step-{steps[0].pk}"}, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    rewind = Rewind.objects.get(agent=agent)
    assert (body["id"], body["status"]) == (f"rewind-{rewind.pk}", "pending")
    assert body["counts"]["block_edits"] == 1 and body["counts"]["steps"] == 3
    assert [b["value"] for b in body["agent"]["memory"]["blocks"] if b["label"] == "human"] == [""]
    [listed] = api.get(f"/v1/agents/agent-{agent.pk}/rewinds").json()
    assert (listed["id"], listed["status"], listed["undo_refused"]) == (body["id"], "pending", None)

    undone = api.post(f"/v1/agents/agent-{agent.pk}/rewinds/{body['id']}/undo")
    assert undone.status_code == 200, undone.content
    assert undone.json()["status"] == "undone" and Step.objects.filter(agent=agent).count() == 3
    again = api.post(f"/v1/agents/agent-{agent.pk}/rewinds/{body['id']}/undo")
    assert again.status_code == 409 and again.json()["code"] == "rewind_refused"

    second = api.post(f"/v1/agents/agent-{agent.pk}/rewind", {"step_id": f"step-{steps[2].pk}"}, format="json").json()
    confirmed = api.post(f"/v1/agents/agent-{agent.pk}/rewinds/{second['id']}/confirm")
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    assert Rewind.objects.get(pk=second["id"].split("-")[1]).removed == {}


def test_a_run_in_progress_is_409_and_others_get_404(ran):
    agent, steps = ran
    api, other = client_of(agent.owner), client_of(make_user())
    url = f"/v1/agents/agent-{agent.pk}/rewind"

    assert other.post(url, {"step_id": f"step-{steps[0].pk}"}, format="json").status_code == 404
    assert other.get(f"/v1/agents/agent-{agent.pk}/rewinds").status_code == 404
    stranger = agent_create(owner=make_user(), name="Eve")
    stranger_step = Step.objects.create(run=make_run(stranger), agent=stranger, index=0, model="m", request={})
    assert api.post(url, {"step_id": f"step-{stranger_step.pk}"}, format="json").status_code == 404
    assert api.post(url, {"step_id": "block-1"}, format="json").status_code == 404

    make_run(agent, status=Run.Status.RUNNING)
    busy = api.post(url, {"step_id": f"step-{steps[0].pk}"}, format="json")
    assert busy.status_code == 409 and "queued or under way" in busy.json()["detail"]
    dry = api.post(url, {"step_id": f"step-{steps[0].pk}", "dry_run": True}, format="json").json()
    assert "queued or under way" in dry["refused"]
    assert api.post(f"/v1/agents/agent-{agent.pk}/rewinds/rewind-999999/undo").status_code == 404


def test_the_routes_are_in_the_schema(db):
    schema = APIClient().get("/v1/openapi.json").json()
    paths = schema["paths"]
    assert set(paths["/v1/agents/{agent_id}/rewind"]) == {"post"}
    assert set(paths["/v1/agents/{agent_id}/rewinds"]) == {"get"}
    assert set(paths["/v1/agents/{agent_id}/rewinds/{rewind_id}/undo"]) == {"post"}
    assert set(paths["/v1/agents/{agent_id}/rewinds/{rewind_id}/confirm"]) == {"post"}
    assert "dry_run" in schema["components"]["schemas"]["RewindInRequest"]["properties"]
