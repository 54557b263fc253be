"""Chat completions from any OpenAI-compatible server, streamed and put back together."""

import re
import uuid
from typing import Any, Callable

from agents.engine.types import Completion, ToolCall
from memory.errors import ProviderError
from memory.openai_api import make_client, stream_chat


def _objects(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


# what OpenAI takes back in a conversation's history: a name or an id outside these would make every
# later request of the agent fail, so a model's odd output is made safe before it is stored
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
CALL_ID = re.compile(r"^[a-zA-Z0-9_.:-]{1,64}$")
UNSAFE = re.compile(r"[\x00\ud800-\udfff]")  # NUL (PostgreSQL refuses it) and lone surrogates (not UTF-8)

# OpenAI's reasoning models take max_completion_tokens and refuse max_tokens
COMPLETION_TOKENS_MODELS = re.compile(r"^(o\d|gpt-5)")


def clean(text: str) -> str:
    """Text a model wrote, storable: no NUL, no lone surrogate (each becomes U+FFFD)."""
    return UNSAFE.sub("\ufffd", text)


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

    def complete(self, request: dict[str, Any], on_content: Callable[[str], None]) -> Completion:
        body = {key: value for key, value in request.items() if key != "stream"}
        if "max_tokens" in body and COMPLETION_TOKENS_MODELS.match(str(body.get("model", ""))):
            body["max_completion_tokens"] = body.pop("max_tokens")
        content: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        finish_reason = response_id = model = None
        usage = None
        for chunk in stream_chat(self.client, **body):
            if not isinstance(chunk, dict):
                raise ProviderError(f"LLM server sent a chunk that is not a JSON object: {str(chunk)[:200]}")
            response_id, model = response_id or chunk.get("id"), model or chunk.get("model")
            if isinstance(chunk.get("usage"), dict):
                usage = _without_nulls(chunk["usage"])
            for choice in _objects(chunk.get("choices")):
                delta = choice.get("delta") if isinstance(choice.get("delta"), dict) else {}
                piece = delta.get("content")
                if isinstance(piece, str) and piece:
                    piece = clean(piece)
                    content.append(piece)
                    on_content(piece)
                for part in _objects(delta.get("tool_calls")):
                    index = part.get("index") if isinstance(part.get("index"), int) else 0
                    slot = calls.setdefault(index, {"id": "", "name": "", "arguments": []})
                    slot["id"] = slot["id"] or _text(part.get("id"))
                    function = part.get("function") if isinstance(part.get("function"), dict) else {}
                    slot["name"] += _text(function.get("name"))
                    slot["arguments"].append(_text(function.get("arguments")))
                finish_reason = choice.get("finish_reason") or finish_reason
        tool_calls, ids = [], set()
        for _, slot in sorted(calls.items()):
            call_id = slot["id"]
            if not CALL_ID.match(call_id) or call_id in ids:  # none (some local servers), odd, or a repeat
                call_id = f"call_{uuid.uuid4().hex[:12]}"
            ids.add(call_id)
            tool_calls.append(ToolCall(id=call_id, name=_safe_name(slot["name"]), arguments=clean("".join(slot["arguments"]))))
        text = "".join(content)
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if tool_calls:
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in tool_calls
            ]
        response = {"id": response_id, "model": model, "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
                    "usage": usage}
        return Completion(content=text, tool_calls=tool_calls, usage=usage, finish_reason=finish_reason, response=response)
