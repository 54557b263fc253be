"""An answer as it streams in, told to the agent's watchers piece by piece.

Content comes as `reasoning_delta`, tool-call arguments as `tool_call_delta`, and what a send_message
call says as `assistant_delta`: its "message" argument read out of the JSON arguments as they grow,
so a client shows the agent's words as they are written, not the JSON around them. Every piece
carries the id the answer's message will have when it is stored, and the stored message's events
say which of their parts were streamed (`streamed`), so a client that took the pieces can skip them."""

import json
import re
from typing import Callable

from agents.engine import events
from agents.engine.types import Delta

ASSISTANT_TOOL = "send_message"
_KEY = re.compile(r'(?<!\\)"message"\s*:\s*"')
_HIGH_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89abAB][0-9a-fA-F]{2}$")


class SpokenText:
    """The "message" string of a JSON object, decoded as far as the pieces of the object seen so far allow."""

    def __init__(self) -> None:
        self.raw = ""
        self.start: int | None = None  # where the string's characters begin in `raw`
        self.said = ""  # decoded and handed out so far
        self.done = False

    def feed(self, piece: str) -> str:
        """Take the next piece of the JSON; the text of "message" it completes (may be "")."""
        if self.done:
            return ""
        self.raw += piece
        if self.start is None:
            found = _KEY.search(self.raw)
            if found is None:
                return ""
            self.start = found.end()
        body, self.done = _string_body(self.raw, self.start)
        try:
            text = json.loads(f'"{body}"')
        except ValueError:  # not a JSON string after all: say nothing more of it
            self.done = True
            return ""
        new, self.said = text[len(self.said):], text
        return new


def _string_body(raw: str, start: int) -> tuple[str, bool]:
    """The escaped characters of the JSON string that begins at `start`, up to where they can be
    decoded (not inside an escape, nor between the halves of a surrogate pair); and whether it ended."""
    i, end = start, len(raw)
    while i < end:
        char = raw[i]
        if char == '"':
            return raw[start:i], True
        if char == "\\":
            if i + 1 >= end:
                break
            step = 6 if raw[i + 1] == "u" else 2
            if i + step > end:
                break
            i += step
            continue
        i += 1
    body = raw[start:i]
    if _HIGH_SURROGATE_ESCAPE.search(body):  # the low half follows in a later piece
        body = body[:-6]
    return body, False


class AnswerStream:
    """Publishes the pieces of the answer of LLM call number `step`, whose message will be `message_id`."""

    def __init__(self, publish: Callable[[events.Event], None], *, run_id: int | None, step: int,
                 message_id: int | None) -> None:
        self.publish, self.run_id, self.step, self.message_id = publish, run_id, step, message_id
        self.content = False  # whether content was streamed
        self.calls: dict[int, dict] = {}  # call index -> {"id", "name", "spoken"}

    def take(self, delta: Delta) -> None:
        if delta.content:
            self.content = True
            self.publish(events.reasoning_delta(run_id=self.run_id, step=self.step, delta=delta.content,
                                                message_id=self.message_id))
            return
        if delta.call is None:
            return
        call = self.calls.setdefault(delta.call, {"id": delta.call_id, "name": "", "spoken": SpokenText()})
        call["name"] += delta.name
        self.publish(events.tool_call_delta(run_id=self.run_id, step=self.step, message_id=self.message_id,
                                            call=delta.call, tool_call_id=call["id"], name=delta.name,
                                            tool=call["name"], delta=delta.arguments))
        if call["name"] == ASSISTANT_TOOL and delta.arguments:
            if said := call["spoken"].feed(delta.arguments):
                self.publish(events.assistant_delta(run_id=self.run_id, step=self.step, message_id=self.message_id,
                                                    tool_call_id=call["id"], delta=said))

    def covers(self, event: events.Event) -> bool:
        """Whether the pieces streamed told all of this event of the stored answer."""
        if event.kind == "reasoning":
            return self.content
        if event.kind in ("tool_call", "assistant_message") and event.get("tool_call_id"):
            return any(call["id"] == event["tool_call_id"] for call in self.calls.values())
        return False
