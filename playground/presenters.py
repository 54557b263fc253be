"""Recall memory as a person reads it: messages turned into chat items for the templates."""

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from agents.engine.tools import argument_of
from memory.models import Message


@dataclass
class Item:
    kind: str  # user, thought, call, agent, alert, heartbeat, summary
    text: str = ""
    id: int | None = None
    run_id: int | None = None
    name: str = ""
    call_id: str = ""
    arguments: str = ""
    result: dict[str, Any] | None = None
    created_at: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def dom_id(self) -> str:
        return call_dom_id(self.call_id)


def call_dom_id(call_id: str) -> str:
    """An HTML id for a tool call whose id came from the model's server (any characters)."""
    return "call-" + hashlib.sha1(call_id.encode()).hexdigest()[:12]


def pretty_arguments(raw: str) -> str:
    try:
        return json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
    except (json.JSONDecodeError, TypeError):
        return raw  # malformed arguments are shown as the model sent them


def tool_result(content: str) -> dict[str, Any]:
    try:
        parsed = json.loads(content)
        return {"status": parsed.get("status", ""), "message": parsed.get("message")}
    except (json.JSONDecodeError, AttributeError):
        return {"status": "", "message": content}


def chat_items(messages: list[Message]) -> list[Item]:
    items: list[Item] = []
    calls: dict[str, Item] = {}
    for m in messages:
        common = {"id": m.pk, "run_id": m.run_id, "created_at": m.created_at}
        if m.kind == Message.Kind.USER_MESSAGE:
            items.append(Item("user", m.text, **common))
        elif m.kind == Message.Kind.ASSISTANT:
            thought = m.content.strip()
            if thought and m.tool_calls:
                items.append(Item("thought", thought, **common))
            if not m.tool_calls:
                items.append(Item("agent", m.text, **common))
            for call in m.tool_calls or ():
                name, raw = call["function"]["name"], call["function"]["arguments"]
                if name == "send_message":
                    items.append(Item("agent", argument_of(raw, "message") or raw, **common))
                    continue
                item = Item("call", name=name, call_id=call["id"], arguments=pretty_arguments(raw), **common)
                calls[call["id"]] = item
                items.append(item)
        elif m.kind == Message.Kind.TOOL_RESULT:
            if m.tool_call_id in calls:
                calls[m.tool_call_id].result = tool_result(m.content)
        elif m.kind == Message.Kind.SUMMARY:
            items.append(Item("summary", m.text, **common))
        elif m.kind == Message.Kind.HEARTBEAT:
            items.append(Item("heartbeat", m.text, **common))
        elif m.kind in (Message.Kind.SYSTEM_ALERT, Message.Kind.LOGIN):
            items.append(Item("alert", m.text, name=m.kind, **common))
    return items
