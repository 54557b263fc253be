"""Groups over Letta's /v1/groups routes (the SDK has none: plain HTTP), against the live stack."""

import json
import re

from agents.services import agent_create
from memory.services import block_create
from tests.fake_llm import tool_call


def named(request: dict) -> str:
    return re.match(r"You are (.+?), a MemGPT agent", request["messages"][0]["content"])[1]


def test_create_list_change_and_delete_a_group(api, other):
    ann, bob, cal = (agent_create(owner=api.user, name=n) for n in ("Ann", "Bob", "Cal"))
    board = block_create(owner=api.user, label="board", value="", limit=500)
    created = api.http.post("/v1/groups/", json={
        "agent_ids": [f"agent-{bob.pk}", f"agent-{cal.pk}"], "description": "team",
        "manager_config": {"manager_type": "supervisor", "manager_agent_id": f"agent-{ann.pk}"},
        "shared_block_ids": [f"block-{board.pk}"]})
    assert created.status_code == 201, created.text
    group = created.json()
    assert (group["manager_type"], group["agent_ids"], group["manager_agent_id"], group["description"]) == \
        ("supervisor", [f"agent-{bob.pk}", f"agent-{cal.pk}"], f"agent-{ann.pk}", "team")
    assert group["shared_block_ids"] == [f"block-{board.pk}"]
    assert "send_message_to_all_agents_in_group" in [t.name for t in api.sdk.agents.tools.list(f"agent-{ann.pk}").items]

    assert [g["id"] for g in api.http.get("/v1/groups/").json()] == [group["id"]]
    assert api.http.get("/v1/groups/", params={"manager_type": "round_robin"}).json() == []
    changed = api.http.patch(f"/v1/groups/{group['id']}", json={"description": "new", "agent_ids": [f"agent-{cal.pk}"]})
    assert changed.status_code == 200 and (changed.json()["description"], changed.json()["agent_ids"]) == \
        ("new", [f"agent-{cal.pk}"])
    assert api.http.patch(f"/v1/groups/{group['id']}", json={"manager_config": {"manager_type": "round_robin"}}) \
        .status_code == 400

    # nobody else's
    assert other.http.get(f"/v1/groups/{group['id']}").status_code == 404
    assert other.http.post(f"/v1/groups/{group['id']}/messages", json={"input": "hi"}).status_code == 404
    stranger = agent_create(owner=other.user, name="Stranger")
    refused = api.http.post("/v1/groups/", json={"agent_ids": [f"agent-{stranger.pk}"]})
    assert refused.status_code == 404 and refused.headers["content-type"] == "application/json"
    bad = api.http.post("/v1/groups/", json={"agent_ids": [f"agent-{ann.pk}"], "manager_config": {"manager_type": "dynamic"}})
    assert bad.status_code == 400 and "round_robin, supervisor and sleeptime" in bad.text
    assert api.http.post("/v1/groups/", json={"agent_ids": [f"agent-{ann.pk}"],
                                              "manager_config": {"manager_type": "supervisor"}}).status_code == 400

    assert api.http.delete(f"/v1/groups/{group['id']}").status_code == 200
    assert api.http.get(f"/v1/groups/{group['id']}").status_code == 404
    assert api.sdk.agents.retrieve(f"agent-{cal.pk}").name == "Cal"  # the agents stay


def test_a_message_to_a_round_robin_group_answers_with_every_agents_messages(api, live_llm):
    ann, bob = (agent_create(owner=api.user, name=n) for n in ("Ann", "Bob"))
    group = api.http.post("/v1/groups/", json={"agent_ids": [f"agent-{ann.pk}", f"agent-{bob.pk}"],
                                               "manager_config": {"manager_type": "round_robin"}}).json()
    live_llm.responder = lambda r: tool_call("send_message", {"message": f"{named(r)} agrees"})
    answer = api.http.post(f"/v1/groups/{group['id']}/messages",
                           json={"messages": [{"role": "user", "content": "Shall we?"}]})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    said = [(m["sender_id"], m["content"]) for m in body["messages"] if m["message_type"] == "assistant_message"]
    assert said == [(f"agent-{ann.pk}", "Ann agrees"), (f"agent-{bob.pk}", "Bob agrees")]
    assert body["stop_reason"]["stop_reason"] == "end_turn" and len(body["usage"]["run_ids"]) == 2
    run = api.http.get(f"/v1/runs/{body['usage']['run_ids'][1]}").json()
    assert run["metadata"]["group_id"] == group["id"] and run["metadata"]["trigger"] == "group_message"
    listed = api.http.get(f"/v1/groups/{group['id']}/messages").json()
    assert {m["content"] for m in listed if m["message_type"] == "assistant_message"} == {"Ann agrees", "Bob agrees"}
    heard = json.loads(live_llm.chat_requests()[-1]["messages"][-1]["content"])["messages"]
    assert heard[-1] == {"from": f"Ann (agent-{ann.pk})", "text": "Ann agrees"}
    assert api.http.post(f"/v1/groups/{group['id']}/reset-messages").status_code == 200
    assert api.sdk.agents.retrieve(f"agent-{ann.pk}").message_ids in ([], None)


def test_enable_sleeptime_gives_an_agent_a_sleeptime_companion(api):
    sam = api.sdk.agents.create(name="Sam", enable_sleeptime=True, memory_blocks=[
        {"label": "persona", "value": "I am Sam."}, {"label": "human", "value": "Ada"}])
    assert sam.enable_sleeptime is True
    group = sam.managed_group
    assert (group.manager_type, group.manager_agent_id, group.sleeptime_agent_frequency) == ("sleeptime", sam.id, 5)
    [companion_id] = group.agent_ids
    companion = api.sdk.agents.retrieve(companion_id)
    assert companion.name == "Sam-sleeptime" and companion.tags == ["sleeptime"] and companion.managed_group is None
    assert {b.label for b in companion.blocks} == {"persona", "human"}
    human = next(b for b in sam.blocks if b.label == "human")
    assert next(b for b in companion.blocks if b.label == "human").id == human.id  # shared, not copied
    assert api.sdk.agents.retrieve(sam.id).managed_group.id == group.id
    assert api.sdk.agents.create(name="Kit").enable_sleeptime is False
