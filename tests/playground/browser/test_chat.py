"""The playground in a real browser: a live daphne, a real worker, the scripted LLM server."""

import json
import re

from agents.models import Agent, Step
from agents.services import agent_create
from memory.models import Block
from tests.factories import make_user
from tests.fake_llm import delay, tool_call
from tests.helpers import log_in, open_agent, screenshot

XSS = "<script>window.__pwned = 1</script><img src=x onerror=\"window.__pwned = 2\">"


def test_create_an_agent_in_the_form(page):
    user = make_user()
    agent_create(owner=user, name="Sam", persona="I am Sam.", human="")
    log_in(page, user)
    screenshot(page, "agents")
    page.fill("#create-form input[name=name]", "Kit")
    page.select_option("#create-form select[name=persona]", label="companion")
    page.click("#create-form button[type=submit]")
    page.wait_for_url(re.compile(r"/agents/\d+/$"))
    assert page.locator("h1").inner_text() == "Kit"
    assert "My name is Sam" in page.locator("form.block textarea[name=value]").first.input_value()
    assert Agent.objects.filter(owner=user, name="Kit").exists()
    screenshot(page, "agent-empty")


def test_a_message_streams_thoughts_tool_calls_and_the_reply_and_the_block_changes_live(page, live_llm):
    agent = agent_create(owner=make_user(), name="Sam", persona="I am Sam.", human="")
    live_llm.enqueue(
        tool_call("core_memory_append", {"label": "human", "content": "Name: Ada. Likes chess.", "request_heartbeat": True},
                  content="She told me her name and that she likes chess; worth remembering."),
        tool_call("send_message", {"message": "Nice to meet you, Ada! Fancy a game of chess?"}, content="Now answer her."),
    )
    log_in(page, agent.owner)
    open_agent(page, agent)
    page.fill("#send-form textarea", "Hi, I'm Ada and I love chess")
    page.keyboard.press("Enter")

    page.wait_for_selector(".msg.agent .bubble:has-text('Fancy a game of chess?')")
    assert page.locator(".msg.user .bubble").first.inner_text() == "Hi, I'm Ada and I love chess"
    assert "worth remembering" in page.locator("details.thought").first.text_content()
    call = page.locator("details.call").first
    assert "core_memory_append" in call.text_content() and call.locator(".badge").inner_text() == "OK"
    human = page.locator(f"#block-{agent.blocks.get(label='human').pk}")
    assert "changed" in human.get_attribute("class")
    assert human.locator("textarea[name=value]").input_value() == "Name: Ada. Likes chess."
    page.wait_for_selector("#status:has-text('idle')")
    assert page.locator("#send-form textarea").input_value() == ""
    screenshot(page, "agent-chat")

    page.reload()  # what streamed in is what is stored
    assert page.locator(".msg.agent .bubble").last.inner_text() == "Nice to meet you, Ada! Fancy a game of chess?"


def test_a_block_edited_in_its_form_is_in_the_next_steps_prompt(page, live_llm):
    agent = agent_create(owner=make_user(), name="Sam", persona="I am Sam.", human="")
    block = agent.blocks.get(label="human")
    log_in(page, agent.owner)
    open_agent(page, agent)
    form = page.locator(f"#block-{block.pk}")
    form.locator("textarea[name=value]").fill("Prefers to be called Captain.")
    assert form.locator(".count").inner_text() == str(len("Prefers to be called Captain."))
    form.locator("button[type=submit]").click()
    page.wait_for_selector(f"#block-{block.pk}.saved")
    assert Block.objects.get(pk=block.pk).value == "Prefers to be called Captain."

    live_llm.enqueue(tool_call("send_message", {"message": "Aye, Captain."}))
    page.fill("#send-form textarea", "hello")
    page.click("#send-form button[type=submit]")
    page.wait_for_selector(".msg.agent .bubble:has-text('Aye, Captain.')")
    step = Step.objects.get(agent=agent)
    assert "<value>\nPrefers to be called Captain.\n</value>" in step.request["messages"][0]["content"]

    page.click(".tabs .tab:has-text('Traces')")
    page.click("a:has-text('step 0')")
    page.wait_for_selector(".step-detail")
    assert "Prefers to be called Captain." in page.locator(".step-detail pre.json").first.text_content()
    screenshot(page, "agent-trace")


def test_the_inspector_shows_the_stored_breakdown_of_the_last_step(page, live_llm):
    agent = agent_create(owner=make_user(), name="Sam", persona="I am Sam.", human="")
    live_llm.enqueue(tool_call("send_message", {"message": "hello"},
                                  usage={"prompt_tokens": 1999, "completion_tokens": 5, "total_tokens": 2004}))
    log_in(page, agent.owner)
    open_agent(page, agent)
    page.fill("#send-form textarea", "count this")
    page.keyboard.press("Enter")
    page.wait_for_selector("#status:has-text('idle')")
    page.wait_for_selector(".msg.agent .bubble:has-text('hello')")
    page.click(".tabs .tab:has-text('Context')")
    page.wait_for_selector("#inspector")
    step = Step.objects.get(agent=agent)
    for tier in ("system_instructions", "tool_schemas", "core_memory", "memory_metadata", "summary", "messages",
                 "completion_reserve"):
        shown = page.locator(f"tr[data-tier={tier}] td.last").inner_text()
        assert int(shown) == step.tokens[tier], tier
    assert page.locator(".reported").inner_text() == "1999"
    screenshot(page, "agent-inspector")


def test_the_open_inspector_follows_a_turn_from_its_events(page, live_llm):
    agent = agent_create(owner=make_user(), name="Sam", persona="I am Sam.", human="")
    live_llm.enqueue(tool_call("conversation_search", {"query": "x", "request_heartbeat": True},
                               usage={"prompt_tokens": 1234, "completion_tokens": 5, "total_tokens": 1239}),
                     delay(2, tool_call("send_message", {"message": "hello"})))
    log_in(page, agent.owner)
    open_agent(page, agent)
    page.click(".tabs .tab:has-text('Context')")
    page.wait_for_selector("#inspector")
    assert page.locator("tr[data-tier=messages] td.last").inner_text() == "–"
    before = int(page.locator("tr[data-tier=messages] td.now").inner_text())
    page.fill("#send-form textarea", "count this")
    page.keyboard.press("Enter")
    page.wait_for_selector(".reported:has-text('1234')")  # the first step's usage event, rendered without a query
    assert page.locator("#status").inner_text() == "working…"  # so it came live, not from a reload at the end
    step = Step.objects.get(agent=agent, index=0)
    assert int(page.locator("tr[data-tier=messages] td.last").inner_text()) == step.tokens["messages"]
    page.wait_for_selector("#status:has-text('idle')")
    # after the turn the next request is compiled again: it now holds the exchange
    page.wait_for_function(f"parseInt(document.querySelector('tr[data-tier=messages] td.now').textContent) > {before}")


def test_user_and_model_written_text_renders_as_text(page, live_llm):
    agent = agent_create(owner=make_user(), name=XSS, persona=XSS, human="")
    live_llm.enqueue(tool_call("send_message", {"message": XSS}, content=XSS))
    log_in(page, agent.owner)
    assert XSS in page.locator("a.agent-link").inner_text()
    open_agent(page, agent)
    page.fill("#send-form textarea", XSS)
    page.keyboard.press("Enter")
    page.wait_for_selector("#status:has-text('idle')")
    page.wait_for_selector(".msg.agent")
    assert page.locator(".msg.agent .bubble").last.inner_text() == XSS
    assert page.locator(".msg.user .bubble").last.inner_text() == XSS
    assert page.locator("h1").inner_text() == XSS
    assert page.evaluate("window.__pwned") is None
    assert page.dialogs == []
    assert json.loads(Step.objects.get(agent=agent).request["messages"][-1]["content"])["message"] == XSS
