"""Our rows and agent events in the shapes of Letta's v1 types (letta_client.types), as plain dicts.

Messages are converted from the events of agents.engine.events, whether they arrive live or are
read back from recall memory (agents.engine.events.message_events), so a streamed turn and the
stored one read alike.
"""

import json
from datetime import datetime
from typing import Any, Iterable
from urllib.parse import urlsplit

from django.conf import settings
from django.db.models import Count
from django.utils import timezone

from agents.agent_file import requirement_of
from agents.engine.context import CompiledContext
from agents.engine.events import Event, message_events
from agents.engine.types import ToolRun
from agents.llm import DEFAULT_SERVER, LLM_CLIENTS, served_model_name, server_named
from agents.llm.catalog import CatalogModel
from agents.models import Agent, Group, ModelServer, Run, Step, Tool
from agents.storage import message_view
from memory.embeddings import LOCAL_MODELS, OPENAI_MODELS
from memory.models import BlockAttachment, Message
from playground.api.ids import to_id

MESSAGE_TYPES = ("system_message", "user_message", "assistant_message", "reasoning_message", "hidden_reasoning_message",
                 "tool_call_message", "tool_return_message", "approval_request_message", "approval_response_message",
                 "summary_message", "event_message")
# Letta's run statuses for ours
RUN_STATUS = {Run.Status.QUEUED: "created", Run.Status.RUNNING: "running", Run.Status.WAITING: "running",
              Run.Status.COMPLETED: "completed",
              Run.Status.FAILED: "failed", Run.Status.CANCELLED: "cancelled"}
RUN_STATUS_OURS = {letta: [ours for ours, theirs in RUN_STATUS.items() if theirs == letta] for letta in RUN_STATUS.values()}
FINISHED = (Run.Status.COMPLETED, Run.Status.FAILED, Run.Status.CANCELLED)
# tool kinds as Letta names them
TOOL_TYPES = {"send_message": "letta_core", "conversation_search": "letta_core", "conversation_search_date": "letta_core",
              "archival_memory_insert": "letta_core", "archival_memory_search": "letta_core",
              "core_memory_append": "letta_memory_core", "core_memory_replace": "letta_memory_core",
              "send_message_to_agent_and_wait_for_reply": "letta_multi_agent_core",
              "send_message_to_agent_async": "letta_multi_agent_core",
              "send_message_to_agents_matching_tags": "letta_multi_agent_core",
              "send_message_to_all_agents_in_group": "letta_multi_agent_core",
              "schedule_wakeup": "letta_builtin"}


def moment(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# --- settings ---------------------------------------------------------------------------------


def model_handle(agent_model: str, owner_id: int | None = None) -> str | None:
    """`openai/<model>` for the model an agent uses (its own or LLM_MODEL), or `<server>/<model>` on
    one of its owner's model servers; None when there is none."""
    name = (agent_model or settings.LLM_MODEL).strip()
    if not name:
        return None
    if agent_model and server_named(agent_model, owner_id) is not None:
        return name
    provider = name.partition("/")[0]
    return name if provider in LLM_CLIENTS and "/" in name else f"openai/{name}"


OPENAI_ENDPOINT = "https://api.openai.com/v1"


def public_endpoint(url: str | None) -> str:
    """What API users are told about a server the playground calls (OPENAI_BASE_URL,
    EMBEDDING_BASE_URL): OpenAI's public address when it is OpenAI, else a redacted one. The
    configured URL may carry a key (`https://user:key@host/v1`) or name a host of our own network,
    and a client never needs it: every model call goes through this server."""
    parts = urlsplit(url or OPENAI_ENDPOINT)
    if parts.hostname == "api.openai.com":
        return OPENAI_ENDPOINT
    return f"{parts.scheme}://redacted"  # an OpenAI-compatible server of the operator's


# Letta's model_endpoint_type and provider_type for our kinds of server (Letta has no llama.cpp provider)
ENDPOINT_TYPES = {"openai": "openai", "vllm": "vllm", "ollama": "ollama", "llamacpp": "llamacpp",
                  "openai_compatible": "openai"}
PROVIDER_TYPES = {**ENDPOINT_TYPES, "llamacpp": "openai"}


def llm_config(agent: Agent) -> dict[str, Any]:
    server = server_named(agent.model, agent.owner_id)
    return {
        "model": served_model_name(agent.model, server) or "",
        "model_endpoint_type": ENDPOINT_TYPES[server.kind] if server else "openai",
        # a person's own server is theirs to see (its address carries no key: model_server_create refuses one)
        "model_endpoint": server.base_url if server else public_endpoint(settings.OPENAI_BASE_URL),
        "context_window": agent.context_window,
        "temperature": agent.temperature,
        "max_tokens": agent.completion_reserve,
        "handle": agent.model.strip() if server else model_handle(agent.model),
        "put_inner_thoughts_in_kwargs": False,
    }


def model(entry: CatalogModel) -> dict[str, Any]:
    """A model of a catalog (agents.llm.catalog) as Letta's Model. Letta requires a window: where the
    server does not say, the window a new agent gets (AGENT_CONTEXT_WINDOW), and `context_window_known`
    (ours) is false."""
    window = entry.context_window or settings.AGENT_CONTEXT_WINDOW
    operators = entry.server == DEFAULT_SERVER
    return {"handle": entry.handle, "name": entry.model, "model": entry.model, "display_name": entry.model,
            "model_endpoint_type": ENDPOINT_TYPES.get(entry.kind, "openai"),
            "model_endpoint": public_endpoint(settings.OPENAI_BASE_URL) if operators else None,
            "provider_type": PROVIDER_TYPES.get(entry.kind, "openai"), "provider_name": entry.server,
            "provider_category": "base" if operators else "byok", "model_type": "llm",
            "context_window": window, "max_context_window": window,
            "context_window_known": entry.context_window is not None}


def provider(row: ModelServer) -> dict[str, Any]:
    """A person's model server as Letta's Provider; its key is never shown again (`api_key` null)."""
    return {"id": to_id("provider", row.pk), "name": row.name, "provider_type": row.kind,
            "provider_category": "byok", "api_key": None, "api_key_set": bool(row.api_key_encrypted),
            "base_url": row.base_url, "access_key": None, "region": None, "api_version": None,
            "updated_at": moment(row.updated_at)}


def embedding_dimensions(handle: str) -> int:
    """Known without loading anything; 0 for an OpenAI-compatible model we do not know."""
    kind, _, name = handle.partition("/")
    if kind == "local" and name in LOCAL_MODELS:
        return LOCAL_MODELS[name][1]
    return OPENAI_MODELS.get(name, (0, 0))[0] if kind == "openai" else 0


def embedding_config(handle: str) -> dict[str, Any]:
    kind, _, name = handle.partition("/")
    return {
        "embedding_model": name,
        "embedding_endpoint_type": "hugging-face" if kind == "local" else "openai",
        "embedding_endpoint": None if kind == "local" else public_endpoint(settings.EMBEDDING_BASE_URL or settings.OPENAI_BASE_URL),
        "embedding_dim": embedding_dimensions(handle),
        "embedding_chunk_size": None,
        "handle": handle,
    }


def tool(row: Tool) -> dict[str, Any]:
    """A tool row as Letta's Tool: a built-in one (its kind as Letta names it) or a custom one (`custom`)."""
    builtin = row.kind == Tool.Kind.BUILTIN
    return {"id": to_id("tool", row.pk), "name": row.name, "description": row.description,
            "json_schema": row.json_schema["function"], "args_json_schema": None,
            "tool_type": TOOL_TYPES.get(row.name, "letta_core") if builtin else "custom",
            "source_type": "python", "source_code": row.source_code or None, "tags": row.tags,
            "return_char_limit": row.return_char_limit,
            "pip_requirements": [requirement_of(r) for r in row.pip_requirements], "npm_requirements": None,
            "created_by_id": to_id("user", row.owner_id), "last_updated_by_id": to_id("user", row.owner_id),
            "default_requires_approval": False, "enable_parallel_execution": False, "metadata_": {},
            "created_at": moment(row.created_at), "updated_at": moment(row.updated_at)}


def group(row: Group) -> dict[str, Any]:
    """A group as Letta's Group (the fields of its other manager types null); its shared blocks are
    the blocks every agent of it has."""
    members = list(row.memberships.order_by("position").values_list("agent_id", flat=True))
    shared = (BlockAttachment.objects.filter(agent_id__in=members).values("block_id")
              .annotate(agents=Count("agent_id", distinct=True)).filter(agents=len(members)).order_by("block_id"))
    return {"id": to_id("group", row.pk), "manager_type": row.kind, "agent_ids": [to_id("agent", pk) for pk in members],
            "description": row.description, "shared_block_ids": [to_id("block", b["block_id"]) for b in shared],
            "manager_agent_id": to_id("agent", row.manager_id), "max_turns": row.max_turns,
            "sleeptime_agent_frequency": row.sleeptime_frequency, "sleeptime_quiet_seconds": row.sleeptime_quiet_seconds,
            "turns_counter": row.turns_counter, "last_processed_message_id": to_id("message", row.last_processed_message_id),
            "termination_token": None, "max_message_buffer_length": None, "min_message_buffer_length": None,
            "project_id": None, "template_id": None, "base_template_id": None, "deployment_id": None, "hidden": None}


def tool_run(run: ToolRun) -> dict[str, Any]:
    """A tool run by hand as Letta's ToolExecutionResult (status, func_return, stdout and stderr as
    lists of lines; stderr holds the traceback of a failure), with ours: `tool_return` (the result as
    text, or the error and its traceback, as a tool_return_message has it), `error`, `traceback` and
    `duration` in seconds."""
    value = run.value if run.ok else f"{run.error}\n{run.traceback}".strip()
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return {"status": "success" if run.ok else "error", "func_return": run.value if run.ok else None,
            "tool_return": text, "stdout": run.stdout.splitlines(), "stderr": run.traceback.splitlines(),
            "error": run.error or None, "traceback": run.traceback or None, "duration": run.duration,
            "agent_state": None, "sandbox_config_fingerprint": None}


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


# --- messages: the events of agents.engine.events as Letta messages ------------------------------


def _head(message_type: str, event: Event) -> dict[str, Any]:
    return {"message_type": message_type, "id": to_id("message", event.get("id")),
            "date": event.get("date") or timezone.now().isoformat(), "run_id": to_id("run", event["run_id"]),
            "step_id": to_id("step", event.get("step_id")), "name": None, "otid": None, "sender_id": None}


def _tool_call(head: dict, call_id: str, name: str, arguments: str) -> dict[str, Any]:
    call = {"name": name, "arguments": arguments, "tool_call_id": call_id}
    return {**head, "message_type": "tool_call_message", "tool_call": call, "tool_calls": [call]}


def message(event: Event, *, use_assistant_message: bool = True) -> dict[str, Any] | None:
    """One event as the Letta message it is; None for events Letta shows no message for.

    One assistant row of recall memory is several events, and so several Letta messages that share
    its id, as in Letta: its inner thoughts (reasoning_message), each tool call (tool_call_message)
    and each send_message call (assistant_message). The result of a successful send_message is not
    shown, as Letta never shows it."""
    kind = event.kind
    if kind == "reasoning":
        return {**_head("reasoning_message", event), "reasoning": event["text"], "source": "non_reasoner_model",
                "signature": None}
    if kind == "tool_call":
        return _tool_call(_head("tool_call_message", event), event["tool_call_id"], event["name"], event["arguments"])
    if kind == "assistant_message":
        if use_assistant_message or not event["tool_call_id"]:
            return {**_head("assistant_message", event), "content": event["text"]}
        return _tool_call(_head("tool_call_message", event), event["tool_call_id"], "send_message", event["arguments"])
    if kind == "tool_result":
        if event["name"] == "send_message" and event["status"] == "OK" and use_assistant_message:
            return None
        status = "success" if event["status"] == "OK" else "error"
        call_id, result = event["tool_call_id"], event["message"]
        return {**_head("tool_return_message", event), "name": event["name"], "tool_call_id": call_id,
                "status": status, "tool_return": result, "stdout": None, "stderr": None,
                "tool_returns": [{"type": "tool", "tool_call_id": call_id, "status": status, "tool_return": result}]}
    if kind == "user_message":
        return {**_head("user_message", event), "content": event["text"]}
    if kind == "summary":
        return {**_head("summary_message", event), "summary": event["text"]}
    if kind == "system_alert":  # heartbeats, logins, alerts: exactly as the model saw them
        return {**_head("system_message", event), "content": event["content"]}
    if kind == "error":
        return {"message_type": "error_message", "error_type": "agent_error", "message": event["message"],
                "detail": None, "run_id": to_id("run", event["run_id"])}
    return None


def from_messages(messages: Iterable[Message], *, types: list[str] | None = None,
                  use_assistant_message: bool = True) -> list[dict[str, Any]]:
    """Rows of recall memory as Letta messages, in order; only `types` if given."""
    out = [converted for m in messages for event in message_events(message_view(m))
           if (converted := message(event, use_assistant_message=use_assistant_message)) is not None]
    return [item for item in out if item["message_type"] in types] if types else out


def from_message(m: Message) -> list[dict[str, Any]]:
    return from_messages([m])


def turn_message(event: Event, options: dict) -> dict[str, Any] | None:
    """What a turn's answer shows of one of its events, streamed or not: what the agent did, not the
    events that made it act (the user's message, heartbeats, alerts); summaries if asked for; errors."""
    if event.kind in ("user_message", "system_alert"):
        return None
    if event.kind == "summary" and not options["include_compaction_messages"]:
        return None
    converted = message(event, use_assistant_message=options["use_assistant_message"])
    types = options.get("include_return_message_types")
    if converted is None or (types and converted["message_type"] not in types
                             and converted["message_type"] != "error_message"):
        return None
    return converted


def _delta_head(message_type: str, event: Event) -> dict[str, Any]:
    return {**_head(message_type, {**event, "id": event["message_id"], "date": None}), "step_id": None}


def stream_message(event: Event, options: dict) -> dict[str, Any] | None:
    """What a stream shows of one event of a turn. With `stream_tokens`, as Letta streams tokens: the
    answer's pieces as they come (reasoning_message, assistant_message and tool_call_message chunks
    that share the message's id, each with the next piece of its `reasoning`, `content` or
    `arguments`), and of the stored answer only what the pieces did not tell. Without it, whole
    messages, once each is stored."""
    kind = event.kind
    if kind.endswith("_delta"):
        if not options.get("stream_tokens"):
            return None
        converted = _delta_message(event, use_assistant_message=options["use_assistant_message"])
    elif options.get("stream_tokens") and event.get("streamed"):
        return None
    else:
        return turn_message(event, options)
    types = options.get("include_return_message_types")
    if converted is None or (types and converted["message_type"] not in types):
        return None
    return converted


def _delta_message(event: Event, *, use_assistant_message: bool) -> dict[str, Any] | None:
    kind = event.kind
    if kind == "reasoning_delta":
        return {**_delta_head("reasoning_message", event), "reasoning": event["delta"], "source": "non_reasoner_model",
                "signature": None}
    if kind == "assistant_delta":
        return {**_delta_head("assistant_message", event), "content": event["delta"]} if use_assistant_message else None
    if kind == "tool_call_delta":
        if event["tool"] == "send_message" and use_assistant_message:
            return None  # its words come as assistant_message pieces
        call = {"name": event["name"] or None, "arguments": event["delta"], "tool_call_id": event["tool_call_id"]}
        return {**_delta_head("tool_call_message", event), "tool_call": call, "tool_calls": call}  # a ToolCallDelta
    return None


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
