"""An answer as it streams in, told to the agent's watchers piece by piece.

Content comes as `reasoning_delta`, tool-call arguments as `tool_call_delta`, and what a send_message
call says as `assistant_delta`: its "message" argument read out of the JSON arguments as they grow,
so a client shows the agent's words as they are written, not the JSON around them. Every piece
carries the id the answer's message will have when it is stored, and the stored message's events
say which of their parts were streamed (`streamed`), so a client that took the pieces can skip them.
Pieces that come within GATHER_SECONDS of each other are published together."""

import json
import re
import time
from typing import Callable

from agents.engine import events
from agents.engine.types import Delta

ASSISTANT_TOOL = "send_message"
# pieces that come closer together than this go out as one: a fast model (or a server that sends many
# pieces at once) would otherwise make an event, and a message to every watcher, per token
GATHER_SECONDS = 0.04
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
                 message_id: int | None, clock: Callable[[], float] = time.monotonic) -> None:
        self.publish, self.run_id, self.step, self.message_id = publish, run_id, step, message_id
        self.clock = clock
        self.content = False  # whether content was streamed
        self.calls: dict[int, dict] = {}  # call index -> {"id", "name", "spoken"}
        # pieces not yet published: of the content (None) or of one call; at most GATHER_SECONDS old
        self.pending: dict = {"part": None, "content": "", "name": "", "arguments": "", "said": ""}
        self.since = clock()

    def take(self, delta: Delta) -> None:
        if not delta.content and delta.call is None:
            return
        part = None if delta.content else delta.call
        if part != self.pending["part"]:
            self.flush()
            self.pending["part"] = part
        if delta.content:
            self.content = True
            self.pending["content"] += delta.content
        else:
            call = self.calls.setdefault(delta.call, {"id": delta.call_id, "name": "", "spoken": SpokenText()})
            call["name"] += delta.name
            self.pending["name"] += delta.name
            self.pending["arguments"] += delta.arguments
            if call["name"] == ASSISTANT_TOOL and delta.arguments:
                self.pending["said"] += call["spoken"].feed(delta.arguments)
        if self.clock() - self.since >= GATHER_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Publish the pieces gathered so far (the loop calls it when the answer is complete)."""
        pending, part = self.pending, self.pending["part"]
        common = {"run_id": self.run_id, "step": self.step, "message_id": self.message_id}
        if pending["content"]:
            self.publish(events.reasoning_delta(delta=pending["content"], **common))
        if part is not None and (pending["name"] or pending["arguments"]):
            call = self.calls[part]
            self.publish(events.tool_call_delta(call=part, tool_call_id=call["id"], name=pending["name"],
                                                tool=call["name"], delta=pending["arguments"], **common))
            if pending["said"]:
                self.publish(events.assistant_delta(tool_call_id=call["id"], delta=pending["said"], **common))
        self.pending = {"part": part, "content": "", "name": "", "arguments": "", "said": ""}
        self.since = self.clock()

    def covers(self, event: events.Event) -> bool:
        """Whether the pieces streamed told all of this event of the stored answer."""
        if event.kind == "reasoning":
            return self.content
        if event.kind in ("tool_call", "assistant_message") and event.get("tool_call_id"):
            return any(call["id"] == event["tool_call_id"] for call in self.calls.values())
        return False
