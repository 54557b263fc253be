"""Time travel in a real browser (docs/time-travel.md): after one real turn that edits the human block,
inserts a passage and answers, a person reads it on the Timeline tab, replays its last step with changes,
forks before its second step and makes that step again, and rewinds the agent to before the turn and
undoes it."""

import re

from agents.models import Agent, Run, Step
from agents.services import agent_create
from memory.models import Block, Message, Passage
from tests.factories import make_user
from tests.fake_llm import tool_call
from tests.helpers import log_in, open_agent, screenshot, wait_for_runs

XSS = "<b>bold</b>"  # model-written text everywhere below: it must show as text, never as a <b> element
HUMAN_BEFORE = "Name: Ada."
CHAT = "/v1/chat/completions"


def chat_bodies(live_llm) -> list[bytes]:
    return [r["raw"] for r in live_llm.requests if r["path"] == CHAT]


def a_turn_that_remembers(page, live_llm) -> Agent:
    """An agent whose one turn, sent from its page, makes three steps: a human block edit, an archival
    insert (both asking for a heartbeat), then its answer."""
    agent = agent_create(owner=make_user(username="ada"), name="Sam", persona="I am Sam.", human=HUMAN_BEFORE)
    live_llm.enqueue(
        tool_call("core_memory_append", {"label": "human", "content": "Plays the " + XSS + " Sicilian.",
                                         "request_heartbeat": True}, content="Worth remembering " + XSS),
        tool_call("archival_memory_insert", {"content": "Ada's opening: " + XSS + " Sicilian",
                                             "request_heartbeat": True}, content="Keep the detail too."),
        tool_call("send_message", {"message": "Noted, " + XSS + " Ada!"}, content="Answer " + XSS),
    )
    log_in(page, agent.owner)
    open_agent(page, agent)
    page.fill("#send-form textarea", "I play the Sicilian")
    page.keyboard.press("Enter")
    page.wait_for_selector(".msg.agent .bubble:has-text('Noted,')", timeout=30_000)
    wait_for_runs(agent)
    assert len(chat_bodies(live_llm)) == 3
    return agent


def open_timeline(page):
    page.click(".tabs .tab:has-text('Timeline')")
    page.wait_for_selector("#timeline")


def test_timeline_replay_and_fork(page, live_llm):
    agent = a_turn_that_remembers(page, live_llm)
    steps = list(Step.objects.filter(agent=agent).order_by("index"))
    human = agent.blocks.get(label="human")
    human_after = human.value
    originals = chat_bodies(live_llm)

    # the Timeline lists the run, its three steps and the memory they changed, model text escaped
    open_timeline(page)
    run = page.locator(".timeline-run")
    assert run.count() == 1 and run.locator(".timeline-steps > li").count() == 3
    step0, step1 = page.locator(f"#timeline-step-{steps[0].pk}"), page.locator(f"#timeline-step-{steps[1].pk}")
    assert "core_memory_append" in step0.inner_text() and "Plays the " + XSS in step0.locator("ins").inner_text()
    assert HUMAN_BEFORE in step0.locator("del").inner_text()
    assert "archival: Ada's opening: " + XSS in step1.locator(".memory-change").inner_text()
    assert page.locator(".timeline-steps b").count() == 0
    screenshot(page, "timeline")

    # replay the answer step with another temperature and the human block edited; the agent stays as it was
    page.click(f"#timeline-step-{steps[2].pk} a:has-text('Replay')")
    page.wait_for_selector("#replay-form")
    live_llm.enqueue(tool_call("send_message", {"message": "Checkers then?"}, content="Replayed " + XSS))
    form = page.locator("#replay-form")
    form.locator("input[name=temperature]").fill("1.3")
    form.locator("textarea[name='block:human']").fill("Name: Ada. Prefers checkers.")
    form.locator("button[type=submit]").click()
    replay = page.locator(".replay[data-status=done]")
    replay.wait_for(timeout=30_000)  # the fragment polls until the worker has the answer
    stored, new = replay.locator(".answer.stored").inner_text(), replay.locator(".answer.new").inner_text()
    assert "Answer " + XSS in stored and "Noted, " + XSS in stored
    assert "Replayed " + XSS in new and "Checkers then?" in new
    assert replay.locator(".side-by-side b, .replay-diff b, .tool-calls-diff b").count() == 0
    sent = live_llm.chat_requests()[-1]
    assert sent["temperature"] == 1.3
    assert "Name: Ada. Prefers checkers." in sent["messages"][0]["content"]
    screenshot(page, "replay")
    assert Run.objects.filter(agent=agent).count() == 1 and Step.objects.filter(agent=agent).count() == 3
    assert Block.objects.get(pk=human.pk).value == human_after

    # fork before step 1: the fork's next request is byte for byte the one step 1 sent
    open_agent(page, agent)
    open_timeline(page)
    page.accept_dialogs = True
    page.click(f"#timeline-step-{steps[1].pk} button:has-text('Fork here')")
    page.wait_for_url(re.compile(r"/agents/(?!%d/)\d+/$" % agent.pk))
    page.wait_for_selector("body[data-live=on]")
    assert page.dialogs == [f"Fork Sam just before step 1 of run {steps[1].run_id} into a new agent?"]
    fork = Agent.objects.exclude(pk=agent.pk).get(owner=agent.owner)
    assert page.url.endswith(f"/agents/{fork.pk}/")
    banner = page.locator("#pending-turn")
    assert "just before step 1" in banner.inner_text()
    live_llm.enqueue(tool_call("send_message", {"message": "A fork's answer."}))
    before = len(chat_bodies(live_llm))
    banner.locator("button:has-text('Make step 1 again')").click()
    page.wait_for_selector(".msg.agent .bubble:has-text(\"A fork's answer.\")", timeout=30_000)
    assert chat_bodies(live_llm)[before] == originals[1]
    assert Block.objects.get(pk=human.pk).value == human_after  # the fork's blocks are copies


def test_rewind_and_undo(page, live_llm):
    agent = a_turn_that_remembers(page, live_llm)
    steps = list(Step.objects.filter(agent=agent).order_by("index"))
    human = agent.blocks.get(label="human")
    human_after = human.value
    messages = Message.objects.filter(agent=agent).count()
    human_field = f"#block-{human.pk} textarea[name=value]"

    # the preview lists what goes, model text shown as text
    open_timeline(page)
    page.click(f"#timeline-step-{steps[0].pk} a:has-text('Rewind here')")
    page.wait_for_selector(".rewind-page")
    assert "Noted, " + XSS in page.locator(".rewind-messages").inner_text()
    assert "Plays the " + XSS in page.locator(".rewind-edits .diff").inner_text()
    assert "Ada's opening: " + XSS in page.locator(".rewind-passages").inner_text()
    assert page.locator(".rewind-messages b, .rewind-edits .diff b, .rewind-passages b, .rewind-window b").count() == 0
    screenshot(page, "rewind")
    page.click("button:has-text('Rewind: remove')")

    # back on the agent page: rewound, step 0 pending, the human block as before the turn
    page.wait_for_url(f"**/agents/{agent.pk}/")
    page.wait_for_selector("#rewind-banner")
    assert "just before step 0" in page.locator("#pending-turn").inner_text()
    assert page.locator(human_field).input_value() == HUMAN_BEFORE
    assert page.locator(".msg.agent").count() == 0
    assert not Passage.objects.filter(agent=agent).exists()
    page.evaluate("window.scrollTo(0, 0)")  # the focused send form scrolls the banners out of view
    screenshot(page, "rewound")

    # undo: everything is back
    page.click("#rewind-banner button:has-text('Undo')")
    page.wait_for_selector("#rewind-banner", state="detached")
    page.reload()
    page.wait_for_selector("body[data-live=on]")
    assert page.locator("#rewind-banner, #pending-turn").count() == 0
    assert page.locator(human_field).input_value() == human_after
    assert page.locator(".msg.agent .bubble").last.inner_text() == "Noted, " + XSS + " Ada!"
    assert Message.objects.filter(agent=agent).count() == messages
    assert Passage.objects.filter(agent=agent).count() == 1
