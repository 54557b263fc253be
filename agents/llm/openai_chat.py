"""Chat completions from any OpenAI-compatible server, streamed and put back together."""

import re
import time
import uuid
from contextlib import closing
from typing import Any, Callable

from agents.engine.types import Completion, Delta, ToolCall
from memory.errors import ProviderError
from memory.text import clean
from memory.openai_api import make_client, stream_chat


def _objects(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


# what OpenAI takes back in a conversation's history: a name or an id outside these would make every
# later request of the agent fail, so a model's odd output is made safe before it is stored
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
CALL_ID = re.compile(r"^[a-zA-Z0-9_.:-]{1,64}$")

# An answer longer than this many characters comes from a server that ignored max_tokens: reading
# it on would store, count and send back megabytes. Generous: a token is rarely more than 16 characters.
CHARS_PER_TOKEN_AT_MOST = 16
MIN_ANSWER_CHARS = 32_000
MAX_ANSWER_CHARS = 400_000  # when the request sets no max_tokens

# OpenAI's reasoning models take max_completion_tokens and refuse max_tokens
COMPLETION_TOKENS_MODELS = re.compile(r"^(o\d|gpt-5)")


def _safe_name(name: str) -> str:
    """The tool's name, or one OpenAI takes that can name no tool (the call then fails as unknown)."""
    name = clean(name)
    return name if TOOL_NAME.match(name) else "invalid_" + re.sub(r"[^a-zA-Z0-9_-]", "_", name)[:56]


def _without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_nulls(item) for key, item in value.items() if item is not None}
    return value


class OpenAIChat:
    def __init__(self, *, base_url: str | None, api_key: str, timeout: float) -> None:
        self.client = make_client(base_url=base_url, api_key=api_key, timeout=timeout)
        self.timeout = timeout

    def complete(self, request: dict[str, Any], on_delta: Callable[[Delta], None]) -> Completion:
        body = {key: value for key, value in request.items() if key != "stream"}
        limit = max(MIN_ANSWER_CHARS, body["max_tokens"] * CHARS_PER_TOKEN_AT_MOST) if body.get("max_tokens") \
            else MAX_ANSWER_CHARS
        if "max_tokens" in body and COMPLETION_TOKENS_MODELS.match(str(body.get("model", ""))):
            body["max_completion_tokens"] = body.pop("max_tokens")
        answer = _Answer(on_delta)
        deadline = time.monotonic() + self.timeout  # the client's time-out bounds each read; this, the whole call
        with closing(stream_chat(self.client, **body)) as chunks:
            for chunk in chunks:
                answer.take(chunk)
                if answer.produced > limit:
                    raise ProviderError(f"The model's answer ran past {limit} characters, more than max_tokens "
                                        "allows: the server ignored the limit. Nothing of it was kept.")
                if time.monotonic() > deadline:
                    raise ProviderError(f"The model's answer took longer than {self.timeout:.0f} s (LLM_TIMEOUT); "
                                        "nothing of it was kept.", retryable=True)
        if answer.finish_reason is None:  # the connection ended without the answer's last chunk
            raise ProviderError("The LLM server's stream ended before the answer was complete; nothing of it was "
                                "kept.", retryable=True)
        return answer.completion()


class _Answer:
    """A streamed answer put back together, chunk by chunk."""

    def __init__(self, on_delta: Callable[[Delta], None]) -> None:
        self.on_delta = on_delta
        self.content: list[str] = []
        self.calls: dict[int, dict[str, Any]] = {}
        self.finish_reason = self.response_id = self.model = None
        self.usage: dict[str, Any] | None = None
        self.produced = 0  # characters of content and tool calls so far

    def take(self, chunk: Any) -> None:
        if not isinstance(chunk, dict):
            raise ProviderError(f"LLM server sent a chunk that is not a JSON object: {str(chunk)[:200]}")
        self.response_id, self.model = self.response_id or chunk.get("id"), self.model or chunk.get("model")
        if isinstance(chunk.get("usage"), dict):
            self.usage = _without_nulls(chunk["usage"])
        for choice in _objects(chunk.get("choices")):
            delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
            piece = delta.get("content")
            if isinstance(piece, str) and piece:
                piece = clean(piece)
                self.produced += len(piece)
                self.content.append(piece)
                self.on_delta(Delta(content=piece))
            for part in _objects(delta.get("tool_calls")):
                index = part.get("index") if isinstance(part.get("index"), int) else 0
                if index not in self.calls:  # its id is settled now, so the pieces streamed name the call stored
                    given = _text(part.get("id"))
                    ids = {slot["id"] for slot in self.calls.values()}
                    call_id = given if CALL_ID.match(given) and given not in ids else f"call_{uuid.uuid4().hex[:12]}"
                    self.calls[index] = {"id": call_id, "name": "", "arguments": []}
                slot = self.calls[index]
                function = part.get("function") if isinstance(part.get("function"), dict) else {}
                name, arguments = _text(function.get("name")), _text(function.get("arguments"))
                slot["name"] += name
                slot["arguments"].append(arguments)
                self.produced += len(name) + len(arguments)
                if name or arguments:
                    self.on_delta(Delta(call=index, call_id=slot["id"], name=name, arguments=clean(arguments)))
            self.finish_reason = choice.get("finish_reason") or self.finish_reason

    def completion(self) -> Completion:
        # ids were settled as each call began: the model's own, or one made up for a missing (some local
        # servers), odd or repeated id
        tool_calls = [ToolCall(id=slot["id"], name=_safe_name(slot["name"]), arguments=clean("".join(slot["arguments"])))
                      for _, slot in sorted(self.calls.items())]
        text = "".join(self.content)
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if tool_calls:
            message["tool_calls"] = [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                                     for c in tool_calls]
        response = {"id": self.response_id, "model": self.model, "usage": self.usage,
                    "choices": [{"index": 0, "message": message, "finish_reason": self.finish_reason}]}
        return Completion(content=text, tool_calls=tool_calls, usage=self.usage, finish_reason=self.finish_reason,
                          response=response)
