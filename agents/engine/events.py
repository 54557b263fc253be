"""Everything an agent's watchers are told, one constructor per kind of event.

An event is a JSON object with a "type" and the run it belongs to. The browser's fragments, the
Letta API (streamed and not) and the chat command all read these, and nothing else.

Messages of recall memory are events too: `message_events` reads a stored message as the events it
stands for (an assistant message with a thought and two tool calls is three of them). The loop
announces every message it stores through `message_events`, so a turn watched live and the same
turn read back later are made of the same events:

    user_message, system_alert, reasoning, tool_call, assistant_message, tool_result, summary

Each of these carries the message's `id`, `run_id`, `step_id` and `date`. The other kinds happen
only live: run_started, reasoning_delta, tool_call_delta, assistant_delta, usage, retry, waiting,
memory_change, error and stop. Where the pieces of an answer were streamed (the *_delta events, made
by agents.engine.streaming), the stored answer's events that they told all of carry `streamed: true`.
"""

import json
from typing import Any

from agents.engine.tools import argument_of
from agents.engine.types import BlockView, MessageView

MESSAGE_EVENTS = ("user_message", "system_alert", "reasoning", "tool_call", "assistant_message", "tool_result", "summary")


class Event(dict):
    """One event: {"type": kind, "run_id": ..., ...}, JSON all through. Made by the constructors below;
    `Event(received)` takes one back from the channel layer."""

    @property
    def kind(self) -> str:
        return self["type"]


def _event(type_: str, run_id: int | None, **fields: Any) -> Event:
    return Event(type=type_, run_id=run_id, **fields)


def _of_message(type_: str, stored: MessageView, **fields: Any) -> Event:
    date = stored.created_at.isoformat() if stored.created_at else None
    return _event(type_, stored.run_id, id=stored.id, step_id=stored.step_id, date=date, **fields)


# --- messages -----------------------------------------------------------------------------------


def user_message(message: MessageView) -> Event:
    """What a person said: `text`; or what another agent said (`sender`: {"agent_id", "name"}); or what
    a round-robin group said (`said`, `group`)."""
    if message.kind == "agent_message":
        sender = _packed(message.content, "sender")
        return _of_message("user_message", message, text=message.text, sender=sender if isinstance(sender, dict) else None)
    if message.kind == "group_message":  # `said`: [{"from", "text"}], what the group said since the agent last spoke
        said = _packed(message.content, "messages")
        return _of_message("user_message", message, text=message.text, said=said if isinstance(said, list) else [],
                           group=_packed(message.content, "group"))
    return _of_message("user_message", message, text=message.text)


def _packed(content: str, name: str):
    """One field of an event packed as JSON (agents.engine.prompts.packed); None if it is not there."""
    try:
        return json.loads(content).get(name)
    except (ValueError, RecursionError, AttributeError, TypeError):
        return None


def system_alert(message: MessageView) -> Event:
    """An event of the system the agent was told of: `kind` (heartbeat, login, system_alert), `text`
    as a person reads it, `content` exactly as the model saw it."""
    return _of_message("system_alert", message, kind=message.kind, text=message.text, content=message.content)


def reasoning(message: MessageView, text: str) -> Event:
    """The agent's inner thoughts before its tool calls: `text`."""
    return _of_message("reasoning", message, text=text)


def tool_call(message: MessageView, call: dict) -> Event:
    """A tool call of the agent: `tool_call_id`, `name`, `arguments` (raw, as the model sent them)."""
    function = call["function"]
    return _of_message("tool_call", message, tool_call_id=call["id"], name=function["name"],
                       arguments=function["arguments"])


def assistant_message(message: MessageView, text: str, call: dict | None = None) -> Event:
    """What the agent said to the user: `text`, from a send_message call (`tool_call_id`, raw
    `arguments`) or, from a model that answered without tools, its plain content."""
    return _of_message("assistant_message", message, text=text, tool_call_id=call["id"] if call else "",
                       arguments=call["function"]["arguments"] if call else "")


def tool_result(message: MessageView) -> Event:
    """A tool's result: `tool_call_id`, `name`, `status` ("OK" or "Failed"), `message` (text)."""
    return _of_message("tool_result", message, tool_call_id=message.tool_call_id, name=message.name,
                       status=_status(message.content), message=message.text)


def summary(message: MessageView) -> Event:
    """The recursive summary that took the place of evicted messages: `text`."""
    return _of_message("summary", message, text=message.text)


def message_events(message: MessageView) -> list[Event]:
    """A message of recall memory as the events it stands for."""
    if message.role == "assistant":
        if not message.tool_calls:  # weak models answer in plain text: that is the agent's message
            return [assistant_message(message, message.text)]
        events = []
        if thoughts := thoughts_of(message.content, message.tool_calls):
            events.append(reasoning(message, thoughts))
        for call in message.tool_calls:
            spoken = argument_of(call["function"]["arguments"], "message") \
                if call["function"]["name"] == "send_message" else None
            events.append(tool_call(message, call) if spoken is None else assistant_message(message, spoken, call))
        return events
    if message.role == "tool":
        return [tool_result(message)]
    if message.kind in ("user_message", "agent_message", "group_message"):
        return [user_message(message)]
    if message.kind == "summary":
        return [summary(message)]
    if message.kind == "system_prompt":
        return []
    return [system_alert(message)]


def thoughts_of(content: str, tool_calls: list[dict] | None) -> str:
    """The inner monologue: the content, or a `thinking` (or `inner_thoughts`) argument where a model
    that returns no content put it."""
    if content.strip():
        return content.strip()
    for call in tool_calls or ():
        for name in ("thinking", "inner_thoughts"):
            if thought := argument_of(call["function"]["arguments"], name):
                return thought.strip()
    return ""


def _status(content: str) -> str:
    try:
        status = json.loads(content).get("status")
    except (ValueError, RecursionError, AttributeError, TypeError):
        return "Failed"
    return status if status in ("OK", "Failed") else "Failed"


# --- the rest of a turn, live only -------------------------------------------------------------------


def run_started(*, run_id: int, trigger: str, resumed: bool = False) -> Event:
    """A worker took the run; `trigger` says what started it (user_message, agent_message, heartbeat, ...).
    `resumed`: the run goes on after waiting for other agents."""
    return _event("run_started", run_id, trigger=trigger, resumed=resumed)


def waiting(*, run_id: int, runs: list[int], agents: list[dict], until: str) -> Event:
    """The run waits for the replies of `agents` ({"agent_id", "name"} each), from their turns `runs`,
    until `until` at most (ISO 8601); it holds no worker meanwhile, and starts again (run_started,
    resumed) when they come."""
    return _event("waiting", run_id, runs=runs, agents=agents, until=until)


def reasoning_delta(*, run_id: int | None, step: int, delta: str, message_id: int | None = None) -> Event:
    """A piece of the content the model is writing in call number `step` of the run (its thoughts,
    or its plain answer), as it streams in; `message_id`: the message the answer will be stored as."""
    return _event("reasoning_delta", run_id, step=step, delta=delta, message_id=message_id)


def tool_call_delta(*, run_id: int | None, step: int, message_id: int | None, call: int, tool_call_id: str, name: str,
                    tool: str, delta: str) -> Event:
    """A piece of tool call number `call` of the answer being written: `name`, a piece of the tool's
    name (all of it, on the first piece, from most servers); `tool`, its name so far; `delta`, a piece
    of its arguments (raw JSON text)."""
    return _event("tool_call_delta", run_id, step=step, message_id=message_id, call=call, tool_call_id=tool_call_id,
                  name=name, tool=tool, delta=delta)


def assistant_delta(*, run_id: int | None, step: int, message_id: int | None, tool_call_id: str, delta: str) -> Event:
    """A piece of what a send_message call being written says to the user (its "message", decoded)."""
    return _event("assistant_delta", run_id, step=step, message_id=message_id, tool_call_id=tool_call_id, delta=delta)


def usage(*, run_id: int | None, step_id: int, step: int, purpose: str, tokens: dict, usage: dict | None,
          latency_ms: float) -> Event:
    """An LLM call ended: `tokens`, our exact count per tier of what was sent; `usage`, what the
    provider reported; `purpose` "agent" or "summary"."""
    return _event("usage", run_id, step_id=step_id, step=step, purpose=purpose, tokens=tokens, usage=usage,
                  latency_ms=round(latency_ms, 1))


def retry(*, run_id: int | None, step_id: int, attempt: int, error: str, wait: float) -> Event:
    """An LLM call failed with a retryable error; it is tried again after `wait` seconds."""
    return _event("retry", run_id, step_id=step_id, attempt=attempt, error=error, wait=wait)


def memory_change(*, block: BlockView, actor: str, run_id: int | None = None, step_id: int | None = None) -> Event:
    """A core memory block changed (`actor`: "agent" or "user"): the block as it is now."""
    return _event("memory_change", run_id, step_id=step_id, actor=actor, block_id=block.id, label=block.label,
                  value=block.value, chars=len(block.value), limit=block.limit, description=block.description,
                  read_only=block.read_only)


def error(*, run_id: int | None, message: str) -> Event:
    """The turn failed: `message` says why. Always followed by "stop"."""
    return _event("error", run_id, message=message)


def stop(*, run_id: int, status: str, stop_reason: str, steps: int = 0) -> Event:
    """The run ended (completed, failed or cancelled): the last event of every run."""
    return _event("stop", run_id, status=status, stop_reason=stop_reason, steps=steps)
