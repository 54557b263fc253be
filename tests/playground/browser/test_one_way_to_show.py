"""One way to show a turn: what the page shows live equals what it shows after a reload equals what
the API returns, for turns with plain content, a `thinking` argument, failed tools, a memory edit
and a flush into a summary."""

import json

import httpx
from rest_framework.authtoken.models import Token

from agents.models import Run
from agents.selectors import agent_context
from agents.services import agent_create
from tests.factories import make_user
from tests.fake_llm import text, tool_call
from tests.helpers import log_in, open_agent, wait_until

SUMMARY_MARK = "You maintain the long-term summary"

# the chat as a list of items, read from the DOM: what a person sees, in order
READ_CHAT = """() => Array.from(document.querySelectorAll('#chat-log .turn > *')).map(el => {
  const text = (selector) => { const found = selector ? el.querySelector(selector) : el; return found ? found.textContent.trim() : ''; };
  if (el.matches('.msg.user')) return ['user', text('.bubble')];
  if (el.matches('.msg.agent')) return ['agent', text('.bubble')];
  if (el.matches('details.thought')) return ['thought', text('.text')];
  if (el.matches('details.call')) return ['call', text('code'), text('.badge'), JSON.parse(text('.args')), text('.result')];
  if (el.matches('.heartbeat')) return ['heartbeat', text()];
  if (el.matches('.alert')) return ['alert', text()];
  if (el.matches('details.summary')) return ['summary', text('.text')];
  if (el.matches('.turn-error')) return ['error', text()];
  if (el.matches('.step-line')) return ['step', text().replace(/ · [0-9.]+ ms$/, '')];
  return ['unexpected', el.outerHTML];
})"""


def api_items(url: str, agent) -> list[list]:
    """The agent's messages through the API, as the same items (a tool's return goes into its call)."""
    token = Token.objects.create(user=agent.owner).key
    messages = httpx.get(f"{url}/v1/agents/agent-{agent.pk}/messages", params={"limit": 1000, "order": "asc"},
                         headers={"Authorization": f"Bearer {token}"}, timeout=30).json()
    items, calls = [], {}
    for m in messages:
        kind = m["message_type"]
        if kind == "user_message":
            items.append(["user", m["content"]])
        elif kind == "assistant_message":
            items.append(["agent", m["content"]])
        elif kind == "reasoning_message":
            items.append(["thought", m["reasoning"]])
        elif kind == "tool_call_message":
            call = m["tool_call"]
            calls[call["tool_call_id"]] = item = ["call", call["name"], "no result", json.loads(call["arguments"]), ""]
            items.append(item)
        elif kind == "tool_return_message":
            calls[m["tool_call_id"]][2:5:2] = ["OK" if m["status"] == "success" else "Failed", m["tool_return"]]
        elif kind == "summary_message":
            items.append(["summary", m["summary"]])
        elif kind == "system_message":
            items.append(["system", json.loads(m["content"])["type"]])
    return items


def without_steps(items: list[list]) -> list[list]:
    """The API has no step lines; heartbeats and alerts are system messages there."""
    kinds = {"heartbeat": "heartbeat", "alert": "system_alert"}
    return [["system", kinds[i[0]]] if i[0] in kinds else i for i in items if i[0] != "step"]


def test_live_equals_reload_equals_the_api(page, live_llm, live):
    agent = agent_create(owner=make_user(), name="Sam", persona="I am Sam.", human="")
    agent.context_window = agent_context(agent=agent).prompt_tokens + 1400
    agent.completion_reserve = 200
    agent.save()
    answers = [
        # a memory edit, thoughts in the content; then the reply with its thoughts in a `thinking` argument
        tool_call("core_memory_append", {"label": "human", "content": "Name: Ada", "request_heartbeat": True},
                  content="She told me her name."),
        tool_call("send_message", {"message": "Hello Ada!", "thinking": "Greet her by name."}),
        # two failed tools, then a plain answer without any tool call
        tool_call("core_memory_replace", {"label": "human", "old_content": "Name: Bob", "new_content": "x",
                                          "request_heartbeat": True}, content="Fix the name?"),
        tool_call("fly_to_the_moon", {"request_heartbeat": True}),
        text("Sorry, I could not do that."),
        # the window fills: warned, then flushed into a summary
        tool_call("send_message", {"message": "Noted, the long story."}),
        tool_call("send_message", {"message": "Still here."}),
        tool_call("send_message", {"message": "And still here."}),
    ]

    def answer(request):
        if SUMMARY_MARK in request["messages"][0]["content"]:
            return text("Ada introduced herself and told a long story about her garden.")
        return answers.pop(0)

    live_llm.responder = answer
    log_in(page, agent.owner)
    open_agent(page, agent)
    said = ["Hi, I'm Ada", "Please fix my name", "My garden: " + "tomatoes, beans and roses grow along the fence. " * 40,
            "Are you there?", "Hello again"]
    for number, line in enumerate(said, start=1):
        page.fill("#send-form textarea", line)
        page.keyboard.press("Enter")
        wait_until(lambda: Run.objects.filter(agent=agent, status__in=["completed", "failed"]).count() == number,
                   message=f"turn {number}")
        page.wait_for_selector("#status:has-text('idle')")

    live_items = page.evaluate(READ_CHAT)
    page.reload()
    page.wait_for_selector("#chat-log .turn")
    reloaded = page.evaluate(READ_CHAT)

    kinds = [item[0] for item in live_items]
    assert {"user", "agent", "thought", "call", "heartbeat", "alert", "summary", "step"} <= set(kinds), kinds
    assert "unexpected" not in kinds, live_items
    assert ["thought", "Greet her by name."] in live_items  # from the `thinking` argument, live and after reload
    assert ["call", "fly_to_the_moon", "Failed"] in [item[:3] for item in live_items]
    assert ["agent", "Sorry, I could not do that."] in live_items
    assert live_items == reloaded

    assert api_items(live.url, agent) == without_steps(reloaded)
