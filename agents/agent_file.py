"""Agent files (Letta's .af layout, version 2): an agent written out as one, a file read and
checked, and new agents made from it.

Files we write carry each message's kind and text, so a round trip is exact; for files from
Letta those are worked out from the role and the packed JSON content MemGPT uses. Ids inside a
file are the file's own ("agent-0", "block-1"), not database keys.
"""

import json
import re
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework import serializers

from agents.engine.events import thoughts_of
from agents.engine.prompts import BASE_INSTRUCTIONS
from agents.engine.rules import KINDS as RULE_KINDS
from agents.engine.rules import tools_named
from agents.engine.tools import TOOL_NAMES, argument_of
from agents.llm import model_name
from agents.models import Agent, Tool
from agents.services import agent_delete, block_attach, tool_attach, tool_create
from agents.tools.schema import MAX_SOURCE_CHARS, ToolSourceError, tool_parse
from memory.embeddings import embedding_problem
from memory.models import Message, Passage
from memory.selectors import agent_blocks
from memory.services import block_create, messages_append, passages_insert_many

MAX_TEXT = 1_000_000  # characters in one text field; a block's own limit is checked by the service
LABEL = re.compile(r"^[A-Za-z0-9_.\-]+$")  # labels become XML-like tags in the prompt


# --- writing ----------------------------------------------------------------------------------


AGENT_FILE_SETTINGS = ("warning_share", "evict_share", "completion_reserve", "max_steps", "heartbeat_fallback",
                       "tool_protocol")


def _moment(value) -> str | None:
    return value.isoformat() if value else None


def agent_file_export(*, agent: Agent, include_passages: bool = False) -> dict:
    """The agent as an agent file (Letta's .af layout, version 2): its settings, core memory blocks,
    whole message history with what is in context, its tools, and optionally its archival passages."""
    blocks = agent_blocks(agent_id=agent.pk)
    tools = list(agent.tools.order_by("kind", "pk"))
    messages = list(Message.objects.filter(agent=agent).order_by("id"))
    message_ids = {m.pk: f"message-{n}" for n, m in enumerate(messages)}
    spec = {
        "id": "agent-0",
        "name": agent.name,
        "description": agent.description,
        "system": agent.system,
        "agent_type": "memgpt_agent",
        "tags": agent.tags,
        "model": agent.model or None,  # None: whatever LLM_MODEL the importing server has
        "embedding": agent.embedding_model,
        "llm_config": {"model": model_name(agent.model) or None, "model_endpoint_type": "openai",
                       "context_window": agent.context_window, "temperature": agent.temperature,
                       "max_tokens": agent.completion_reserve},
        "embedding_config": {"embedding_model": agent.embedding_model.partition("/")[2],
                             "handle": agent.embedding_model},
        "block_ids": [f"block-{n}" for n in range(len(blocks))],
        "tool_ids": [f"tool-{n}" for n in range(len(tools))],
        "source_ids": [],
        "messages": [
            {"id": message_ids[m.pk], "role": m.role, "content": [{"type": "text", "text": m.content}],
             "tool_calls": m.tool_calls, "tool_call_id": m.tool_call_id or None, "name": m.name or None,
             "created_at": _moment(m.created_at),
             # ours, so a round trip is exact: what kind of event it was and the text a person reads
             "kind": m.kind, "text": m.text}
            for m in messages
        ],
        "in_context_message_ids": [message_ids[m.pk] for m in messages if m.in_context],
        "metadata": {"memgpt_playground": {**{name: getattr(agent, name) for name in AGENT_FILE_SETTINGS},
                                           "memory_edited_at": _moment(agent.memory_edited_at)}},
        "tool_rules": agent.tool_rules,
        "include_base_tools": False,
    }
    file = {
        "agents": [spec],
        "blocks": [{"id": f"block-{n}", "label": b.label, "value": b.value, "limit": b.limit,
                    "description": b.description, "read_only": b.read_only, "is_template": False, "metadata": {}}
                   for n, b in enumerate(blocks)],
        "tools": [_tool_entry(n, t) for n, t in enumerate(tools)],
        "groups": [], "files": [], "sources": [], "mcp_servers": [],
        "metadata": {"exported_by": "memgpt-playground"},
        "created_at": _moment(timezone.now()),
    }
    if include_passages:
        file["passages"] = [{"agent_id": "agent-0", "text": p.text, "tags": p.tags, "created_at": _moment(p.created_at)}
                            for p in Passage.objects.filter(agent=agent).order_by("id")]
    return file


def _tool_entry(n: int, tool: Tool) -> dict:
    """A tool in Letta's shape; a custom one with its source, so the importing server can make it."""
    custom = tool.kind == Tool.Kind.CUSTOM
    return {"id": f"tool-{n}", "name": tool.name, "tool_type": "custom" if custom else "letta_core",
            "description": tool.description, "json_schema": tool.json_schema["function"], "source_type": "python",
            "source_code": tool.source_code if custom else None, "tags": tool.tags,
            "return_char_limit": tool.return_char_limit,
            "pip_requirements": [requirement_of(r) for r in tool.pip_requirements]}


def requirement_of(text: str) -> dict:
    """A pip requirement as stored ("requests==2.32.3", "numpy>=2") in Letta's shape: {"name", "version"}."""
    match = re.match(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(.*)$", text)
    name, version = (match.groups() if match else (text, ""))
    version = version.strip().removeprefix("==").strip()
    return {"name": name, "version": version or None}


def requirement_text(requirement: dict) -> str:
    """Letta's {"name", "version"} as a pip requirement: a bare version means exactly that version."""
    version = (requirement.get("version") or "").strip()
    if version and version[0] not in "<>=!~":
        version = f"=={version}"
    return requirement["name"] + version


# --- tool rules, as letta_client.types spells them (InitToolRule, TerminalToolRule, ...) ----------

TOOL_RULE_TYPES = RULE_KINDS  # InitToolRule (run_first), TerminalToolRule (exit_loop), ...: those the engine enforces


class _Rule(serializers.Serializer):
    tool_name = serializers.CharField(max_length=64)
    type = serializers.ChoiceField(list(TOOL_RULE_TYPES), error_messages={
        "invalid_choice": f'"{{input}}" is not a tool rule type; one of {", ".join(TOOL_RULE_TYPES)}.'})
    prompt_template = serializers.CharField(required=False, allow_null=True, max_length=10_000, trim_whitespace=False)


class _InitRule(_Rule):
    args = serializers.DictField(required=False, allow_null=True)


class _ChildRule(_Rule):
    children = serializers.ListField(child=serializers.CharField(max_length=64), max_length=100)
    child_arg_nodes = serializers.ListField(child=serializers.DictField(), required=False, allow_null=True,
                                            max_length=100)


class _MaxCountRule(_Rule):
    max_count_limit = serializers.IntegerField(min_value=1, max_value=1000)


class _ConditionalRule(_Rule):
    child_output_mapping = serializers.DictField(child=serializers.CharField(max_length=64))
    default_child = serializers.CharField(required=False, allow_null=True, max_length=64)
    require_output_mapping = serializers.BooleanField(required=False, default=False)


RULE_FIELDS = {"run_first": _InitRule, "constrain_child_tools": _ChildRule, "parent_last_tool": _ChildRule,
               "max_count_per_step": _MaxCountRule, "conditional": _ConditionalRule}


class ToolRuleField(serializers.Field):
    """One tool rule, checked by the fields of its type and kept with only those fields."""

    def to_internal_value(self, data: Any) -> dict:
        if not isinstance(data, dict):
            raise serializers.ValidationError("A tool rule is an object with tool_name and type.")
        rule = RULE_FIELDS.get(data.get("type"), _Rule)(data=data)
        rule.is_valid(raise_exception=True)
        return dict(rule.validated_data)

    def to_representation(self, value: dict) -> dict:
        return value


def rule_tool_names(rules: list[dict]) -> list[str]:
    """Every tool a list of rules names: the rules' own tools, their children and their default children."""
    return list(dict.fromkeys(name for rule in rules for name in tools_named(rule)))


# --- reading ----------------------------------------------------------------------------------


MAX_MESSAGES = 200_000


class FileBlock(serializers.Serializer):
    id = serializers.CharField(max_length=100)
    label = serializers.RegexField(LABEL, max_length=100)
    value = serializers.CharField(allow_blank=True, trim_whitespace=False, max_length=MAX_TEXT)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_TEXT, default=5000)
    description = serializers.CharField(allow_blank=True, allow_null=True, required=False, trim_whitespace=False)
    read_only = serializers.BooleanField(default=False)


class FileMessage(serializers.Serializer):
    id = serializers.CharField(max_length=100)
    role = serializers.ChoiceField(["system", "user", "assistant", "tool"])
    content = serializers.JSONField(required=False, allow_null=True)
    tool_calls = serializers.JSONField(required=False, allow_null=True)
    tool_call_id = serializers.CharField(max_length=100, required=False, allow_null=True, allow_blank=True)
    name = serializers.CharField(max_length=100, required=False, allow_null=True, allow_blank=True)
    created_at = serializers.DateTimeField(required=False, allow_null=True)
    kind = serializers.ChoiceField(Message.Kind.values, required=False, allow_null=True)
    text = serializers.CharField(required=False, allow_null=True, allow_blank=True, trim_whitespace=False)


class FileAgent(serializers.Serializer):
    id = serializers.CharField(max_length=100)
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(allow_blank=True, allow_null=True, required=False)
    system = serializers.CharField(allow_blank=True, allow_null=True, required=False, trim_whitespace=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=100), required=False, allow_null=True)
    model = serializers.CharField(max_length=200, required=False, allow_null=True)
    embedding = serializers.CharField(max_length=200, required=False, allow_null=True)
    llm_config = serializers.JSONField(required=False, allow_null=True)
    embedding_config = serializers.JSONField(required=False, allow_null=True)
    block_ids = serializers.ListField(child=serializers.CharField(max_length=100), required=False, allow_null=True)
    messages = FileMessage(many=True, required=False, allow_null=True, max_length=MAX_MESSAGES)
    in_context_message_ids = serializers.ListField(child=serializers.CharField(max_length=100), required=False,
                                                   allow_null=True)
    metadata = serializers.JSONField(required=False, allow_null=True)
    tool_ids = serializers.ListField(child=serializers.CharField(max_length=100), required=False, allow_null=True,
                                     max_length=1000)
    tool_rules = serializers.ListField(child=ToolRuleField(), required=False, allow_null=True, max_length=100)


class FileRequirement(serializers.Serializer):
    name = serializers.RegexField(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
    version = serializers.RegexField(r"^(==|>=|<=|~=|!=|>|<)?\s*[A-Za-z0-9.*+!_-]{1,60}$", required=False,
                                     allow_null=True, allow_blank=True)


class FileTool(serializers.Serializer):
    id = serializers.CharField(max_length=100)
    name = serializers.CharField(max_length=64)
    tool_type = serializers.CharField(max_length=60, required=False, allow_null=True)
    description = serializers.CharField(allow_blank=True, allow_null=True, required=False, trim_whitespace=False,
                                        max_length=MAX_TEXT)
    source_code = serializers.CharField(allow_blank=True, allow_null=True, required=False, trim_whitespace=False,
                                        max_length=MAX_SOURCE_CHARS)
    tags = serializers.ListField(child=serializers.CharField(max_length=100), required=False, allow_null=True,
                                 max_length=100)
    return_char_limit = serializers.IntegerField(min_value=1, max_value=1_000_000, required=False, allow_null=True)
    pip_requirements = FileRequirement(many=True, required=False, allow_null=True, max_length=50)


class FilePassage(serializers.Serializer):
    agent_id = serializers.CharField(max_length=100)
    text = serializers.CharField(max_length=MAX_TEXT, trim_whitespace=False)
    tags = serializers.ListField(child=serializers.CharField(max_length=100), required=False, allow_null=True)
    created_at = serializers.DateTimeField(required=False, allow_null=True)


class AgentFile(serializers.Serializer):
    agents = FileAgent(many=True, min_length=1, max_length=100)
    blocks = FileBlock(many=True, required=False, max_length=10_000)
    tools = FileTool(many=True, required=False, max_length=1000)
    passages = FilePassage(many=True, required=False, max_length=100_000)


def _text_of(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(part.get("text", "") for part in content if isinstance(part, dict) and isinstance(part.get("text"), str))
    raise serializers.ValidationError({"messages": ["A message's content is text or a list of text parts."]})


def _packed(content: str) -> dict:
    """MemGPT packs events as JSON ({"type": "user_message", "message": ...}); {} when it is plain text."""
    try:
        value = json.loads(content)
    except (json.JSONDecodeError, TypeError):
        return {}
    return value if isinstance(value, dict) else {}


def _tool_calls(raw: Any) -> list[dict] | None:
    if not raw:
        return None
    calls = []
    for call in raw if isinstance(raw, list) else [None]:
        function = call.get("function") if isinstance(call, dict) else None
        if not (isinstance(function, dict) and isinstance(call.get("id"), str) and isinstance(function.get("name"), str)
                and isinstance(function.get("arguments"), str)):
            raise serializers.ValidationError({"messages": ["tool_calls are OpenAI-style: [{id, function: {name, arguments}}]."]})
        calls.append({"id": call["id"], "type": "function",
                      "function": {"name": function["name"], "arguments": function["arguments"]}})
    return calls


KINDS_OF_EVENTS = {"user_message": Message.Kind.USER_MESSAGE, "heartbeat": Message.Kind.HEARTBEAT,
                   "login": Message.Kind.LOGIN, "system_alert": Message.Kind.SYSTEM_ALERT}


def _message(m: dict, in_context: bool) -> dict | None:
    """A message of the file as Message fields; None for Letta's stored system prompt, which we
    compile afresh for every request."""
    content = _text_of(m.get("content"))
    role, tool_calls = m["role"], _tool_calls(m.get("tool_calls"))
    kind, text = m.get("kind"), m.get("text")
    if role == "system" and kind is None:
        return None
    if role == "tool" and not m.get("tool_call_id"):
        raise serializers.ValidationError({"messages": [f"The tool message {m['id']} names no tool_call_id."]})
    if kind is None:  # a file from Letta
        packed = _packed(content)
        if role == "user":
            kind = KINDS_OF_EVENTS.get(packed.get("type"), Message.Kind.USER_MESSAGE)
            text = packed.get("message") or packed.get("reason") or content
        elif role == "assistant":
            kind = Message.Kind.ASSISTANT
            spoken = [argument_of(c["function"]["arguments"], "message") for c in tool_calls or []
                      if c["function"]["name"] == "send_message"]
            text = "\n\n".join(s for s in spoken if s) or thoughts_of(content, tool_calls)
        else:
            kind = Message.Kind.TOOL_RESULT
            message = packed.get("message")
            text = message if isinstance(message, str) else ("" if message is None else json.dumps(message))
    if "\x00" in content or "\x00" in (text or ""):
        raise serializers.ValidationError({"messages": ["A message holds a NUL character."]})
    return {"role": role, "kind": kind, "content": content, "text": text or "", "tool_calls": tool_calls,
            "tool_call_id": m.get("tool_call_id") or "", "name": m.get("name") or "", "in_context": in_context,
            "created_at": m.get("created_at") or timezone.now()}


def _settings(spec: dict) -> dict:
    llm = spec.get("llm_config") or {}
    embedding_config = spec.get("embedding_config") or {}
    ours = (spec.get("metadata") or {}).get("memgpt_playground") or {}
    if not all(isinstance(v, dict) for v in (llm, embedding_config, ours)):
        raise serializers.ValidationError({"agents": ["llm_config, embedding_config and metadata are objects."]})
    model = spec.get("model") or llm.get("handle") or llm.get("model") or ""
    embedding = spec.get("embedding") or embedding_config.get("handle") or settings.EMBEDDING_MODEL
    window = llm.get("context_window") or settings.AGENT_CONTEXT_WINDOW
    temperature = llm.get("temperature", 0.7)
    checks = [
        (isinstance(model, str) and len(model) <= 200, "llm_config.model is a model name"),
        (isinstance(window, int) and not isinstance(window, bool) and 2048 <= window <= 10_000_000,
         "llm_config.context_window is a number of tokens, 2048 or more"),
        (isinstance(temperature, (int, float)) and not isinstance(temperature, bool) and 0 <= temperature <= 2,
         "llm_config.temperature is from 0 to 2"),
    ]
    limits = {"warning_share": (0.1, 1.0), "evict_share": (0.1, 0.9), "completion_reserve": (0, 1_000_000),
              "max_steps": (1, 100)}
    extra = {}
    for name, (low, high) in limits.items():
        if name in ours:
            value = ours[name]
            checks.append((isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value <= high,
                           f"metadata.memgpt_playground.{name} is from {low} to {high}"))
            extra[name] = value
    if "heartbeat_fallback" in ours:
        checks.append((isinstance(ours["heartbeat_fallback"], bool), "metadata.memgpt_playground.heartbeat_fallback is "
                                                                      "true or false"))
        extra["heartbeat_fallback"] = ours["heartbeat_fallback"]
    if "tool_protocol" in ours:
        checks.append((ours["tool_protocol"] in Agent.ToolProtocol.values, "metadata.memgpt_playground.tool_protocol is "
                                                                           + " or ".join(Agent.ToolProtocol.values)))
        extra["tool_protocol"] = ours["tool_protocol"]
    if ours.get("memory_edited_at"):
        edited = serializers.DateTimeField().to_internal_value(ours["memory_edited_at"])
        extra["memory_edited_at"] = edited
    for ok, problem in checks:
        if not ok:
            raise serializers.ValidationError({"agents": [problem]})
    if problem := embedding_problem(embedding):
        raise serializers.ValidationError({"agents": [problem]})
    return {"name": spec["name"], "description": spec.get("description") or "", "tags": spec.get("tags") or [],
            "system": spec.get("system") or BASE_INSTRUCTIONS.format(name=spec["name"]), "model": model,
            "context_window": window, "temperature": float(temperature), "embedding_model": embedding, **extra}


def agent_file_read(data: Any, *, name: str | None = None, strip_messages: bool = False, model: str | None = None,
                    embedding: str | None = None) -> dict:
    """The keyword arguments of agent_file_import for a parsed agent file; ValidationError if it is not one."""
    file = AgentFile(data=data)
    file.is_valid(raise_exception=True)
    raw = file.validated_data
    blocks = [{**b, "description": b.get("description") or ""} for b in raw.get("blocks") or []]
    block_ids = {b["id"] for b in blocks}
    tools = _file_tools(raw.get("tools") or [])
    agents = []
    for spec in raw["agents"]:
        wanted = spec.get("block_ids") or []
        if unknown := [i for i in wanted if i not in block_ids]:
            raise serializers.ValidationError({"agents": [f"{spec['id']} names the block {unknown[0]}, which the file lacks."]})
        in_context = set(spec.get("in_context_message_ids") or [])
        messages = [] if strip_messages else [
            row for m in spec.get("messages") or [] if (row := _message(m, m["id"] in in_context)) is not None]
        called = set()
        for row in messages:
            called |= {c["id"] for c in row["tool_calls"] or []}
            if row["role"] == "tool" and row["tool_call_id"] not in called:
                raise serializers.ValidationError({"messages": [
                    f"A tool result answers the call {row['tool_call_id']!r}, which no earlier message makes."]})
        fields = _settings(spec)
        fields.update(_agent_tools(spec, tools))
        if name:
            fields["name"] = name
        if model:
            fields["model"] = model
        if embedding:
            fields["embedding_model"] = embedding
        agents.append({"id": spec["id"], "block_ids": wanted, "messages": messages, **fields})
    agent_ids = {a["id"] for a in agents}
    passages = [{**p, "tags": p.get("tags") or []} for p in raw.get("passages") or []]
    if stray := [p["agent_id"] for p in passages if p["agent_id"] not in agent_ids]:
        raise serializers.ValidationError({"passages": [f"A passage belongs to {stray[0]}, which the file lacks."]})
    used = {i for a in agents for i in a["tool_ids"]}
    return {"agents": agents, "blocks": blocks, "passages": passages,
            "tools": [t for t in tools.values() if t["id"] in used and t["source_code"] is not None]}


def _file_tools(entries: list[dict]) -> dict[str, dict]:
    """The file's tools by their file id: a built-in one ({"id", "name", "source_code": None}) or a
    custom one with what tool_create takes. A custom tool's source must parse, and name the tool."""
    tools = {}
    for entry in entries:
        source = entry.get("source_code")
        custom = entry.get("tool_type") == "custom" or (source and entry["name"] not in TOOL_NAMES)
        if not custom:
            tools[entry["id"]] = {"id": entry["id"], "name": entry["name"], "source_code": None}
            continue
        try:
            parsed = tool_parse(source or "")
        except ToolSourceError as error:
            raise serializers.ValidationError({"tools": [f"The tool {entry['name']!r}: {error}"]}) from None
        if parsed.name != entry["name"]:
            raise serializers.ValidationError({"tools": [
                f"The tool {entry['name']!r} holds the source of a function named {parsed.name!r}."]})
        tools[entry["id"]] = {
            "id": entry["id"], "name": entry["name"], "source_code": source, "description": entry.get("description"),
            "tags": entry.get("tags") or [], "return_char_limit": entry.get("return_char_limit") or 6000,
            "pip_requirements": [requirement_text(r) for r in entry.get("pip_requirements") or []]}
    return tools


def _agent_tools(spec: dict, tools: dict[str, dict]) -> dict:
    """An agent's tools ("tool_ids": file ids of custom tools and built-in tools' names) and its tool rules.
    A file without tool_ids (an older one) gets every built-in tool. Built-in tools of Letta's that
    the playground lacks are left out, with the rules about them; a rule about any other tool the
    agent lacks is refused."""
    if spec.get("tool_ids") is None:
        return {"tool_ids": list(TOOL_NAMES), "tool_rules": spec.get("tool_rules") or []}
    if unknown := [i for i in spec["tool_ids"] if i not in tools]:
        raise serializers.ValidationError({"agents": [f"{spec['id']} names the tool {unknown[0]}, which the file lacks."]})
    named = [tools[i] for i in spec["tool_ids"]]
    lacking = {t["name"] for t in named if t["source_code"] is None and t["name"] not in TOOL_NAMES}
    kept = [t for t in named if t["name"] not in lacking]
    have = {t["name"] for t in kept}
    rules = [r for r in spec.get("tool_rules") or [] if not lacking & set(rule_tool_names([r]))]
    if stray := [n for n in rule_tool_names(rules) if n not in have]:
        raise serializers.ValidationError({"agents": [f"A tool rule of {spec['id']} names the tool {stray[0]!r}, "
                                                      "which the agent lacks."]})
    return {"tool_ids": [t["id"] if t["source_code"] is not None else t["name"] for t in kept], "tool_rules": rules}


# --- importing --------------------------------------------------------------------------------


def _tools_for(owner, tools: list[dict]) -> dict[str, Tool]:
    """The file's custom tools as the owner's: one of the same name and the same source is reused;
    one of the same name and other source is refused (replacing it would change it for the agents
    that use it; renaming would change what the imported agent's history and rules call it)."""
    rows = {}
    for spec in tools:
        mine = Tool.objects.filter(owner=owner, name=spec["name"]).first()
        if mine is not None and mine.source_code != spec["source_code"]:
            raise ValueError(f"You have a tool named {spec['name']!r} already, with other source: rename or delete "
                             "yours (or make it the same as the file's), then import again.")
        rows[spec["id"]] = mine or tool_create(owner=owner, **{k: v for k, v in spec.items() if k not in ("id", "name")})
    return rows


def agent_file_import(*, owner, agents: list[dict], blocks: list[dict], passages: list[dict] | None = None,
                      tools: list[dict] | None = None) -> list[Agent]:
    """Agents from an agent file, already read and checked by agent_file_read:
    `blocks` [{"id", "label", "value", ...}] are created once, so blocks shared in the file stay shared;
    each agent {"id", "block_ids", "messages": [{Message fields, "created_at", "in_context"}], settings...};
    `passages` [{"agent_id", "text", "tags", "created_at"}] go into the archival memory of their agent;
    `tools` [{"id", "name", "source_code", ...}] are the custom tools, made the owner's (see _tools_for),
    and each agent's "tool_ids" are their ids or built-in tools' names.
    Message times are kept. Passages are embedded after the rest is committed; if that fails the new
    agents are removed again."""
    passages = passages or []
    created: list[Agent] = []
    with transaction.atomic():
        rows = {spec["id"]: block_create(owner=owner, **{k: v for k, v in spec.items() if k != "id"}) for spec in blocks}
        custom = _tools_for(owner, tools or [])
        builtin = {t.name: t for t in Tool.objects.filter(kind=Tool.Kind.BUILTIN)}
        file_ids: dict[int, str] = {}
        for spec in agents:
            settings_ = {k: v for k, v in spec.items() if k not in ("id", "block_ids", "messages", "tool_ids")}
            agent = Agent.objects.create(owner=owner, **settings_)
            file_ids[agent.pk] = spec["id"]
            for tool_id in spec["tool_ids"]:
                tool_attach(agent=agent, tool=custom.get(tool_id) or builtin[tool_id])
            for block_id in spec["block_ids"]:
                block_attach(block=rows[block_id], agent=agent, mark_edited=False)  # the file says when memory was edited
            messages = spec["messages"]
            stored = messages_append(agent_id=agent.pk, owner_id=owner.pk,
                                     messages=[{k: v for k, v in m.items() if k != "created_at"} for m in messages])
            for row, message in zip(stored, messages):
                row.created_at = message["created_at"]  # auto_now_add set it to now on insert
            Message.objects.bulk_update(stored, ["created_at"])
            created.append(agent)
    try:
        for agent in created:
            mine = [p for p in passages if p["agent_id"] == file_ids[agent.pk]]
            if mine:
                passages_insert_many(owner_id=owner.pk, agent_id=agent.pk, passages=mine,
                                     embedding_model=agent.embedding_model)
    except Exception:
        for agent in created:
            agent_delete(agent=agent)
        raise
    return created
