"""A group's page in a real browser: the worked example of docs/multi-agent.md, a supervisor with two
workers sharing a block; the person's message goes to the group and every agent's answer streams in."""

import json
import re

from agents.groups import group_create
from agents.services import agent_create
from memory.models import Block
from memory.services import block_create
from tests.factories import make_user
from tests.fake_llm import delay, tool_call
from tests.helpers import log_in, screenshot


def supervisor_and_workers(request):
    """The scripted model of the worked example: the supervisor asks both workers, each notes its part
    on the shared board, and the supervisor sums up their replies."""
    name = re.match(r"You are (.+?), a MemGPT agent", request["messages"][0]["content"])[1]
    heartbeat = '"type": "heartbeat"' in (request["messages"][-1]["content"] or "")
    if name == "Lead":
        if heartbeat:
            result = next(m for m in reversed(request["messages"]) if m["role"] == "tool")
            replies = json.loads(json.loads(result["content"])["message"])
            return tool_call("send_message", {"message": "Summary: " + " ".join(r["reply"] for r in replies)})
        return tool_call("send_message_to_all_agents_in_group", {"message": "One fact about owls each, please.",
                                                                 "request_heartbeat": True}, content="Split the work.")
    if heartbeat:
        return delay(0.5, tool_call("send_message", {"message": f"{name}: owls turn their heads 270°."}))
    return tool_call("core_memory_append", {"label": "board", "content": f"- {name}: done", "request_heartbeat": True},
                     content="Note it on the board.")


def test_a_message_to_a_supervisor_group_streams_every_agents_answer(page, live_llm):
    owner = make_user()
    lead, wren, finch = (agent_create(owner=owner, name=n) for n in ("Lead", "Wren", "Finch"))
    board = block_create(owner=owner, label="board", value="Owl facts:", limit=1000)
    group = group_create(owner=owner, kind="supervisor", members=[wren, finch], manager=lead, shared_blocks=[board],
                         description="Owl research <team>")
    live_llm.responder = supervisor_and_workers
    log_in(page, owner)
    page.click(".topbar a:text('Groups')")
    page.click(f"a[href='/groups/{group.pk}/']")
    assert page.locator("h1").inner_text() == "Owl research <team>"
    page.fill("#send-form textarea", "Find owl facts")
    page.keyboard.press("Enter")

    page.wait_for_selector(".group-run .speaker:has-text('Wren')")
    page.wait_for_selector(".group-run .speaker:has-text('Finch')")
    page.wait_for_selector(".msg.agent .bubble:has-text('Summary: Wren: owls turn')")
    speakers = page.locator(".group-run .speaker a").all_inner_texts()
    assert speakers[0] == "Lead" and sorted(speakers[1:]) == ["Finch", "Wren"]
    assert page.locator(".msg.user .bubble").first.inner_text() == "Find owl facts"
    page.wait_for_selector("#status:has-text('idle')")
    screenshot(page, "group-supervisor")
    assert sorted(Block.objects.get(pk=board.pk).value.splitlines()[1:]) == ["- Finch: done", "- Wren: done"]

    page.reload()  # what streamed in is what is stored
    assert page.locator(".group-run .speaker a").all_inner_texts()[0] == "Lead"
    assert "Summary: Wren: owls turn" in page.locator(".group-run").first.inner_text()
    assert page.locator(".msg.user .bubble").count() == 1
