"""Tool calls for servers without native tool calling (an agent's tool_protocol "json").

Many local servers refuse `tools` (llama.cpp without --jinja, vLLM without a tool-call parser, Ollama
for models it has no tool template for), or take them and answer in prose. `JsonToolsLLM` wraps any
LLM: it describes the tools and one answer format in the system message, sends the conversation as
plain chat (no `tools`, no tool_calls, no role "tool"), and reads the answer back into tool calls.

The answer format is one JSON object per call, and nothing else:

    {"thinking": "...", "tool": "<name>", "arguments": {...}}

Reading it back is tolerant where that cannot change what the model meant (code fences, text around
the object, several objects for several calls), and strict where it could: the JSON must parse as it
is. A call whose JSON does not parse (a trailing comma, a missing quote) still becomes a call of the
tool it names, with the text as its arguments, so the engine's own check fails it with a message
that says where the JSON broke, and the model tries again on the heartbeat a failed call gets. An
answer that names no tool is plain text: the agent's reply, as a native model's answer without a
tool call is.

The request is rewritten in place, so that the step the loop stores holds the request the server was
actually sent; a retry of the same request is recognized and sent again as it is.
"""

import json
import re
import uuid
from typing import Any, Callable

from agents.engine.types import LLM, Completion, Delta, ToolCall

PROTOCOL_HEADING = "# Calling tools (JSON protocol)"
RESULT_PREFIX = "[Result of "
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
FENCE = re.compile(r"```[a-zA-Z]*\s*\n?(.*?)```", re.DOTALL)
NAMED_TOOL = re.compile(r'"tool"\s*:\s*"([^"\\]{1,200})"')
ARGUMENTS_KEY = re.compile(r'"arguments"\s*:\s*')
NATIVE_ONLY = ("tools", "tool_choice", "parallel_tool_calls")

FORMAT = """\
This server has no function calling of its own, so you call tools by writing JSON. Every answer of yours \
is one JSON object per tool call, and nothing else:
{"thinking": "<your private thoughts: what you noticed and why you act>", "tool": "<a tool name from the \
list below>", "arguments": {<the tool's arguments, as its parameters below describe them>}}
Rules:
- Write strict JSON: double quotes, no comments, no trailing commas, no code fences, no text outside the object.
- "arguments" is a JSON object with every required parameter of the tool.
- To call two tools in one answer, write two such objects, one per line.
- The user sees only what you send with send_message; everything else is private.
- The result of each call comes back to you in a user message that starts with "[Result of <tool>".
Tools, each with what it does and its parameters as a JSON Schema:"""


def protocol_text(tools: list[dict[str, Any]]) -> str:
    """The section the system message gains: the answer format and every tool's name and schema."""
    lines = [PROTOCOL_HEADING, FORMAT]
    for tool in tools:
        function = tool.get("function") or {}
        lines.append(f"- {function.get('name', '')}: {function.get('description', '')}\n  parameters: "
                     + json.dumps(function.get("parameters") or {"type": "object", "properties": {}},
                                  ensure_ascii=False, separators=(",", ":")))
    return "\n".join(lines)


def _call_text(content: str | None, call: dict[str, Any]) -> str:
    """A past native call, written as the model would write it in this protocol."""
    function = call.get("function") or {}
    raw = function.get("arguments") or "{}"
    try:
        arguments: Any = json.loads(raw)
    except ValueError:
        arguments = raw  # the call failed for it then; shown as it was
    return json.dumps({"thinking": content or "", "tool": function.get("name", ""), "arguments": arguments},
                      ensure_ascii=False)


def rewrite_history(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The conversation as plain chat: calls as the JSON the model writes, results as user messages that
    name their call, consecutive user messages joined (some chat templates refuse two in a row)."""
    out: list[dict[str, Any]] = []
    names: dict[str, str] = {}  # call id -> tool name
    for message in messages:
        role = message.get("role")
        if role == "assistant" and message.get("tool_calls"):
            for call in message["tool_calls"]:
                names[call.get("id", "")] = (call.get("function") or {}).get("name", "")
            text = "\n".join(_call_text(message.get("content") if i == 0 else "", call)
                             for i, call in enumerate(message["tool_calls"]))
            rewritten = {"role": "assistant", "content": text}
        elif role == "tool":
            call_id = message.get("tool_call_id", "")
            rewritten = {"role": "user",
                         "content": f"{RESULT_PREFIX}{names.get(call_id, 'a tool')} (call {call_id})]\n{message.get('content') or ''}"}
        else:
            rewritten = {key: value for key, value in message.items() if key != "tool_calls"}
            rewritten["content"] = rewritten.get("content") or ""
        if rewritten["role"] == "user" and out and out[-1]["role"] == "user" and "name" not in out[-1] \
                and "name" not in rewritten:
            out[-1] = {"role": "user", "content": f"{out[-1]['content']}\n\n{rewritten['content']}"}
        else:
            out.append(rewritten)
    return out


def rewrite_request(request: dict[str, Any]) -> None:
    """Make a request with `tools` one that a server without tool calling takes, in place."""
    tools = request.get("tools") or []
    for key in NATIVE_ONLY:
        request.pop(key, None)
    messages = rewrite_history(request["messages"])
    section = protocol_text(tools)
    if messages and messages[0]["role"] in ("system", "developer"):
        messages[0] = {**messages[0], "content": f"{messages[0]['content']}\n\n{section}"}
    else:
        messages.insert(0, {"role": "system", "content": section})
    request["messages"] = messages


def _rewritten(request: dict[str, Any]) -> bool:
    messages = request.get("messages") or []
    return bool(messages) and PROTOCOL_HEADING in str(messages[0].get("content") or "")


def _safe_name(name: str) -> str:
    return name if TOOL_NAME.match(name) else "invalid_" + re.sub(r"[^a-zA-Z0-9_-]", "_", name)[:56]


def _objects(text: str) -> list[tuple[int, int, Any]]:
    """Every JSON object in the text that parses as it is, with where it starts and ends."""
    decoder, found, position = json.JSONDecoder(), [], 0
    while (start := text.find("{", position)) != -1:
        try:
            value, end = decoder.raw_decode(text, start)
        except (ValueError, RecursionError):
            position = start + 1
            continue
        found.append((start, end, value))
        position = end
    return found


def _broken_call(text: str) -> ToolCall | None:
    """A call whose JSON does not parse, but that names its tool: its arguments are the text from
    "arguments" on (or the whole text), so that the engine says where the JSON broke."""
    named = NAMED_TOOL.search(text)
    if named is None:
        return None
    key = ARGUMENTS_KEY.search(text, named.end()) or ARGUMENTS_KEY.search(text)
    raw = text[key.end():].strip() if key else text.strip()
    if key and raw.endswith("}"):
        raw = raw[:-1].rstrip()  # the end of the object around "arguments"
    return ToolCall(id=_call_id(), name=_safe_name(named.group(1)), arguments=raw or text.strip())


def _call_id() -> str:
    return f"call_{uuid.uuid4().hex[:12]}"


def parse_answer(text: str) -> tuple[str, list[ToolCall]]:
    """The thinking and the tool calls of an answer in the protocol's format (see the module's docstring)."""
    fenced = FENCE.findall(text)
    body = "\n".join(fenced) if fenced else text
    calls, thinking = [], ""
    objects = [(start, end, value) for start, end, value in _objects(body)
               if isinstance(value, dict) and isinstance(value.get("tool"), str)]
    for start, _, value in objects:
        arguments = value.get("arguments", {})
        raw = arguments if isinstance(arguments, str) else json.dumps(arguments, ensure_ascii=False)
        calls.append(ToolCall(id=_call_id(), name=_safe_name(value["tool"].strip()), arguments=raw))
        if not thinking:
            said = value.get("thinking")
            thinking = said if isinstance(said, str) and said.strip() else body[:start].strip()
    if calls:
        return thinking, calls
    broken = _broken_call(body)
    if broken is not None:
        return body[:body.find("{")].strip() if "{" in body else "", [broken]
    return text, []


def _ignore(delta: Delta) -> None:  # the raw JSON is not shown as it streams: what it means is, once read
    pass


class JsonToolsLLM:
    """An LLM that calls tools through the JSON protocol, around an LLM that sends what it is given."""

    def __init__(self, inner: LLM) -> None:
        self.inner = inner

    def complete(self, request: dict[str, Any], on_delta: Callable[[Delta], None]) -> Completion:
        if request.get("tools"):
            rewrite_request(request)
        elif not _rewritten(request):  # no tools offered (a summary): nothing to read back
            for key in NATIVE_ONLY:  # an empty list of tools is still refused
                request.pop(key, None)
            return self.inner.complete(request, on_delta)
        completion = self.inner.complete(request, _ignore)
        thinking, calls = parse_answer(completion.content)
        if thinking:
            on_delta(Delta(content=thinking))
        for index, call in enumerate(calls):
            on_delta(Delta(call=index, call_id=call.id, name=call.name, arguments=call.arguments))
        response = dict(completion.response)
        response["json_protocol"] = {  # what the answer was read as; the answer itself stays as it came
            "thinking": thinking,
            "tool_calls": [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                           for c in calls]}
        return Completion(content=thinking if calls else completion.content, tool_calls=calls, usage=completion.usage,
                          finish_reason="tool_calls" if calls else completion.finish_reason, response=response)


def with_tool_protocol(llm: LLM, protocol: str) -> LLM:
    """The agent's LLM for its tool_protocol: "json" wraps it, "native" leaves it as it is."""
    return JsonToolsLLM(llm) if protocol == "json" else llm
