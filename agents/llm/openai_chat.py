"""Chat completions from any OpenAI-compatible server, streamed and put back together."""

import uuid
from typing import Any, Callable

from agents.engine.types import Completion, ToolCall
from memory.openai_api import make_client, stream_chat


class OpenAIChat:
    def __init__(self, *, base_url: str | None, api_key: str, timeout: float) -> None:
        self.client = make_client(base_url=base_url, api_key=api_key, timeout=timeout)

    def complete(self, request: dict[str, Any], on_content: Callable[[str], None]) -> Completion:
        body = {key: value for key, value in request.items() if key != "stream"}
        content: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        finish_reason = response_id = model = None
        usage = None
        for chunk in stream_chat(self.client, **body):
            response_id, model = response_id or chunk.id, model or chunk.model
            if chunk.usage is not None:
                usage = chunk.usage.model_dump(exclude_none=True)
            for choice in chunk.choices:
                delta = choice.delta
                if delta.content:
                    content.append(delta.content)
                    on_content(delta.content)
                for part in delta.tool_calls or ():
                    slot = calls.setdefault(part.index, {"id": "", "name": "", "arguments": []})
                    slot["id"] = slot["id"] or (part.id or "")
                    if part.function is not None:
                        slot["name"] += part.function.name or ""
                        slot["arguments"].append(part.function.arguments or "")
                finish_reason = choice.finish_reason or finish_reason
        tool_calls = [
            # some local servers send no call id; the result must still name one
            ToolCall(id=slot["id"] or f"call_{uuid.uuid4().hex[:12]}", name=slot["name"], arguments="".join(slot["arguments"]))
            for _, slot in sorted(calls.items())
        ]
        text = "".join(content)
        message: dict[str, Any] = {"role": "assistant", "content": text or None}
        if tool_calls:
            message["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}} for c in tool_calls
            ]
        response = {"id": response_id, "model": model, "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
                    "usage": usage}
        return Completion(content=text, tool_calls=tool_calls, usage=usage, finish_reason=finish_reason, response=response)
