"""Two agents in two tabs: a message from one to the other streams live on both pages, the chat shows
it as from an agent, and the traces show the call tree across them."""

import re

from agents.services import agent_create
from tests.factories import make_user
from tests.fake_llm import delay, tool_call
from tests.helpers import log_in, screenshot


def test_a_message_between_agents_streams_on_both_pages_and_traces_show_the_call_tree(page, live_llm):
    owner = make_user()
    ann = agent_create(owner=owner, name="Ann", persona="I coordinate.", include_multi_agent_tools=True)
    bob = agent_create(owner=owner, name="Bob", persona="I <b>research</b>.")

    def respond(request):
        name = re.match(r"You are (.+?), a MemGPT agent", request["messages"][0]["content"])[1]
        heartbeat = '"type": "heartbeat"' in (request["messages"][-1]["content"] or "")
        if name == "Bob":
            return delay(1.5, tool_call("send_message", {"message": "Paris <i>of course</i>."}, content="Easy one."))
        if heartbeat:
            return tool_call("send_message", {"message": "Bob says Paris."})
        return tool_call("send_message_to_agent_and_wait_for_reply",
                         {"other_agent_id": f"agent-{bob.pk}", "message": "Capital of France?", "request_heartbeat": True},
                         content="Bob knows geography.")

    live_llm.responder = respond
    log_in(page, owner)
    bobs = page.context.new_page()
    bobs.goto(f"/agents/{bob.pk}/")
    page.goto(f"/agents/{ann.pk}/")
    page.fill("#send-form textarea", "Ask Bob for the capital of France")
    page.keyboard.press("Enter")

    # Ann waits, holding no worker; her page says for whom
    page.wait_for_selector(".waiting-line:has-text('waiting for Bob')")
    assert page.locator("#status").inner_text() == "waiting…"
    # Bob's page streams his turn: the message as from Ann, with a link to her, then his answer
    incoming = bobs.wait_for_selector(".msg.from-agent")
    assert incoming.inner_text().startswith("from Ann, an agent") and "Capital of France?" in incoming.inner_text()
    assert bobs.locator(".msg.from-agent .from a").get_attribute("href") == f"/agents/{ann.pk}/"
    bobs.wait_for_selector(".msg.agent .bubble:has-text('Paris <i>of course</i>.')")  # escaped, shown as text
    # Ann's turn goes on with the reply
    page.wait_for_selector(".msg.agent .bubble:has-text('Bob says Paris.')")
    assert page.locator(".waiting-line").count() == 0
    call = page.locator("details.call").first
    assert call.locator(".badge").inner_text() == "OK" and "Paris <i>of course</i>." in call.text_content()
    page.wait_for_selector("#status:has-text('idle')")
    screenshot(page, "agents-together")

    # the traces: Bob's run under the step of Ann's that sent it, with his step
    page.click("a.tab:has-text('Traces')")
    tree = page.wait_for_selector("#traces .call-tree")
    assert "sent to Bob" in tree.inner_text() and "agent_message" in tree.inner_text()
    assert tree.query_selector("a[hx-get*='/steps/']") is not None
    bobs.click("a.tab:has-text('Traces')")
    assert "← a message from Ann" in bobs.wait_for_selector("#traces .run").inner_text()
    assert page.evaluate("window.__pwned") is None and bobs.evaluate("window.__pwned") is None
