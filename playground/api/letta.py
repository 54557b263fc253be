"""Our rows and turn events in the shapes of Letta's v1 types (letta_client.types), as plain dicts.

One assistant row of recall memory becomes several Letta messages that share its id, as in Letta:
its inner thoughts (reasoning_message), each tool call (tool_call_message), and each send_message
call (assistant_message). A tool row becomes a tool_return_message, except the result of a
successful send_message, which Letta never shows. The same rules convert the live events of a turn,
so a streamed turn and the stored one read alike.
"""

import json
from datetime import datetime
from typing import Any, Iterable

from django.conf import settings
from django.utils import timezone

from agents.engine.context import CompiledContext
from agents.engine.tools import TOOL_SCHEMAS
from agents.llm import LLM_CLIENTS, model_name
from agents.models import Agent, Run, Step
from memory.embeddings import LOCAL_MODELS, OPENAI_MODELS
from memory.models import Message
from playground.api.ids import to_id

MESSAGE_TYPES = ("system_message", "user_message", "assistant_message", "reasoning_message", "hidden_reasoning_message",
                 "tool_call_message", "tool_return_message", "approval_request_message", "approval_response_message",
                 "summary_message", "event_message")
# Letta's run statuses for ours
RUN_STATUS = {Run.Status.QUEUED: "created", Run.Status.RUNNING: "running", Run.Status.COMPLETED: "completed",
              Run.Status.FAILED: "failed", Run.Status.CANCELLED: "cancelled"}
RUN_STATUS_OURS = {letta: ours for ours, letta in RUN_STATUS.items()}
FINISHED = (Run.Status.COMPLETED, Run.Status.FAILED, Run.Status.CANCELLED)
# tool kinds as Letta names them
TOOL_TYPES = {"send_message": "letta_core", "conversation_search": "letta_core", "conversation_search_date": "letta_core",
              "archival_memory_insert": "letta_core", "archival_memory_search": "letta_core",
              "core_memory_append": "letta_memory_core", "core_memory_replace": "letta_memory_core"}
TOOLS = {schema["function"]["name"]: schema["function"] for schema in TOOL_SCHEMAS}


def moment(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --- settings ---------------------------------------------------------------------------------


def model_handle(agent_model: str) -> str | None:
    """`openai/<model>` for the model an agent uses (its own or LLM_MODEL); None when there is none."""
    name = (agent_model or settings.LLM_MODEL).strip()
    if not name:
        return None
    provider = name.partition("/")[0]
    return name if provider in LLM_CLIENTS and "/" in name else f"openai/{name}"


def llm_config(agent: Agent) -> dict[str, Any]:
    return {
        "model": model_name(agent.model) or "",
        "model_endpoint_type": "openai",
        "model_endpoint": settings.OPENAI_BASE_URL or "https://api.openai.com/v1",
        "context_window": agent.context_window,
        "temperature": agent.temperature,
        "max_tokens": agent.completion_reserve,
        "handle": model_handle(agent.model),
        "put_inner_thoughts_in_kwargs": False,
    }


def embedding_dimensions(handle: str) -> int:
    """Known without loading anything; 0 for an OpenAI-compatible model we do not know."""
    kind, _, name = handle.partition("/")
    if kind == "local" and name in LOCAL_MODELS:
        return LOCAL_MODELS[name][1]
    return OPENAI_MODELS.get(name, (0, 0))[0] if kind == "openai" else 0


def embedding_problem(handle: str) -> str | None:
    """Why `handle` cannot be an embedding model here, or None."""
    kind, _, name = handle.partition("/")
    if kind == "local" and name in LOCAL_MODELS:
        return None
    if kind == "openai" and name:
        return None
    known = ", ".join(f"local/{n}" for n in LOCAL_MODELS)
    return f"unknown embedding model {handle!r}: use {known}, or openai/<model> for an OpenAI-compatible server"


def embedding_config(handle: str) -> dict[str, Any]:
    kind, _, name = handle.partition("/")
    return {
        "embedding_model": name,
        "embedding_endpoint_type": "hugging-face" if kind == "local" else "openai",
        "embedding_endpoint": None if kind == "local" else (settings.EMBEDDING_BASE_URL or settings.OPENAI_BASE_URL or None),
        "embedding_dim": embedding_dimensions(handle),
        "embedding_chunk_size": None,
        "handle": handle,
    }


def tool(name: str) -> dict[str, Any]:
    function = TOOLS[name]
    return {"id": f"tool-{name}", "name": name, "description": function["description"], "json_schema": function,
            "tool_type": TOOL_TYPES.get(name, "letta_core"), "source_type": "python", "tags": [],
            "return_char_limit": None, "args_json_schema": None}


def context_window_overview(context: CompiledContext, *, archival: int, recall: int) -> dict[str, Any]:
    """Letta's ContextWindowOverview of a compiled context, with `tokens`: our exact count per tier."""
    tokens, sections = context.tokens, context.sections
    summary = sections["summary"] or None
    history = context.messages[2 if summary else 1:]  # after the system message and the summary
    return {
        "context_window_size_max": tokens["context_window"],
        "context_window_size_current": tokens["prompt_total"],
        "num_messages": len(context.messages),
        "num_archival_memory": archival,
        "num_recall_memory": recall,
        "num_tokens_external_memory_summary": tokens["memory_metadata"],
        "external_memory_summary": sections["memory_metadata"],
        "num_tokens_system": tokens["system_instructions"],
        "system_prompt": sections["system_instructions"],
        "num_tokens_core_memory": tokens["core_memory"],
        "core_memory": sections["core_memory"],
        "num_tokens_summary_memory": tokens["summary"],
        "summary_memory": summary,
        "num_tokens_functions_definitions": tokens["tool_schemas"],
        "functions_definitions": context.tools,
        "num_tokens_messages": tokens["messages"],
        "messages": history,
        "tokens": tokens,
    }


# --- recall memory as Letta messages ------------------------------------------------------------


def _head(message_type: str, message_id: int | None, date: datetime | None, run_id: int | None,
          step_id: int | None = None) -> dict[str, Any]:
    return {"message_type": message_type, "id": to_id("message", message_id), "date": moment(date or timezone.now()),
            "run_id": to_id("run", run_id), "step_id": to_id("step", step_id), "name": None, "otid": None,
            "sender_id": None}


def argument(raw: str, name: str) -> str | None:
    try:
        value = json.loads(raw).get(name)
    except (json.JSONDecodeError, AttributeError, TypeError):
        return None
    return value if isinstance(value, str) else None


def thoughts_of(content: str, tool_calls: list[dict] | None) -> str:
    """The inner monologue: the content, or a `thinking` argument where the model put it (as the engine does)."""
    if content.strip():
        return content.strip()
    for call in tool_calls or []:
        for name in ("thinking", "inner_thoughts"):
            if thought := argument(call["function"]["arguments"], name):
                return thought.strip()
    return ""


def _tool_call(call_id: str, name: str, arguments: str) -> dict[str, str]:
    return {"name": name, "arguments": arguments, "tool_call_id": call_id}


def tool_call_message(head: dict, call_id: str, name: str, arguments: str) -> dict[str, Any]:
    call = _tool_call(call_id, name, arguments)
    return {**head, "message_type": "tool_call_message", "tool_call": call, "tool_calls": [call]}


def tool_return_message(head: dict, call_id: str, name: str, ok: bool, result: str) -> dict[str, Any]:
    status = "success" if ok else "error"
    return {**head, "message_type": "tool_return_message", "name": name, "tool_call_id": call_id, "status": status,
            "tool_return": result, "stdout": None, "stderr": None,
            "tool_returns": [{"type": "tool", "tool_call_id": call_id, "status": status, "tool_return": result}]}


def _tool_ok(content: str) -> bool:
    try:
        return json.loads(content).get("status") == "OK"
    except (json.JSONDecodeError, AttributeError):
        return False


def from_message(m: Message, *, use_assistant_message: bool = True) -> list[dict[str, Any]]:
    """One row of recall memory as the Letta messages it stands for."""
    def head(message_type: str) -> dict[str, Any]:
        return _head(message_type, m.pk, m.created_at, m.run_id, m.step_id)

    if m.role == Message.Role.ASSISTANT:
        out = []
        thoughts = thoughts_of(m.content, m.tool_calls) if m.tool_calls else ""
        if thoughts:
            out.append({**head("reasoning_message"), "reasoning": thoughts, "source": "non_reasoner_model", "signature": None})
        if not m.tool_calls:  # a plain answer: what the model wrote is what the user reads
            return [{**head("assistant_message"), "content": m.text}]
        for call in m.tool_calls:
            name, arguments = call["function"]["name"], call["function"]["arguments"]
            spoken = argument(arguments, "message") if name == "send_message" else None
            if spoken is not None and use_assistant_message:
                out.append({**head("assistant_message"), "content": spoken})
            else:
                out.append(tool_call_message(head("tool_call_message"), call["id"], name, arguments))
        return out
    if m.role == Message.Role.TOOL:
        ok = _tool_ok(m.content)
        if m.name == "send_message" and ok and use_assistant_message:
            return []
        return [tool_return_message(head("tool_return_message"), m.tool_call_id, m.name, ok, m.text)]
    if m.kind == Message.Kind.USER_MESSAGE:
        return [{**head("user_message"), "content": m.text}]
    if m.kind == Message.Kind.SUMMARY:
        return [{**head("summary_message"), "summary": m.text}]
    # heartbeats, logins, system alerts: events of the system, exactly as the model saw them
    return [{**head("system_message"), "content": m.content}]


def from_messages(messages: Iterable[Message], *, types: list[str] | None = None,
                  use_assistant_message: bool = True) -> list[dict[str, Any]]:
    out = [item for m in messages for item in from_message(m, use_assistant_message=use_assistant_message)]
    return [item for item in out if item["message_type"] in types] if types else out


# --- the live events of a turn as Letta stream chunks --------------------------------------------


def from_event(event: dict[str, Any], *, use_assistant_message: bool = True,
               include_compaction: bool = False) -> list[dict[str, Any]]:
    """The Letta chunks for one event of agents.engine.loop; [] for events Letta has no chunk for."""
    kind, run_id = event.get("type"), event.get("run_id")

    def head(message_type: str) -> dict[str, Any]:
        return _head(message_type, event.get("id"), None, run_id)

    if kind == "reasoning":
        return [{**head("reasoning_message"), "reasoning": event["text"], "source": "non_reasoner_model", "signature": None}]
    if kind == "tool_call":
        return [tool_call_message(head("tool_call_message"), event["tool_call_id"], event["name"], event["arguments"])]
    if kind == "tool_result":
        result = event.get("message")
        text = result if isinstance(result, str) else ("" if result is None else str(result))
        return [tool_return_message(head("tool_return_message"), event["tool_call_id"], event["name"],
                                    event.get("status") == "OK", text)]
    if kind == "assistant_message":
        if use_assistant_message or not event.get("tool_call_id"):
            return [{**head("assistant_message"), "content": event["text"]}]
        arguments = json.dumps({"message": event["text"]}, ensure_ascii=False)
        return [tool_call_message(head("tool_call_message"), event["tool_call_id"], "send_message", arguments)]
    if kind == "summary" and include_compaction:
        return [{**head("summary_message"), "summary": event["text"]}]
    if kind == "error":
        return [{"message_type": "error_message", "error_type": "agent_error", "message": event.get("message", ""),
                 "detail": None, "run_id": to_id("run", run_id)}]
    return []


def stop_reason(reason: str) -> dict[str, str]:
    return {"message_type": "stop_reason", "stop_reason": reason or "error"}


def usage(run: Run, steps: list[Step]) -> dict[str, Any]:
    """What a turn cost: the provider's reported tokens summed over its calls (summaries included),
    and `context_tokens`, our exact count of the last prompt sent."""
    prompt = sum(s.prompt_tokens or 0 for s in steps)
    completion = sum(s.completion_tokens or 0 for s in steps)
    answered = [s for s in steps if s.purpose == Step.Purpose.AGENT and not s.error]
    return {"message_type": "usage_statistics", "prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion, "step_count": len(answered), "run_ids": [to_id("run", run.pk)],
            "context_tokens": answered[-1].tokens.get("prompt_total") if answered else None,
            "cached_input_tokens": None, "cache_write_tokens": None, "reasoning_tokens": None}
