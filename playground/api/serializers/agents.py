"""Agents: create, update, list, their Letta shape and their context window."""

import secrets
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import NotFound

from agents.agent_file import rule_tool_names
from agents.models import Agent, Group, Tool
from memory.embeddings import embedding_problem
from playground.api import letta
from playground.api.ids import from_id, to_id
from agents.engine.tools import BASE_TOOL_NAMES, MULTI_AGENT_TOOL_NAMES
from agents.selectors import tools_usable_by
from playground.api.selectors import agent_tools, tools_named
from playground.api.serializers.blocks import BlockCreate, BlockOut
from playground.api.serializers.common import ListQuery, PublicId, ids_field, tags_field, text_field
from playground.api.serializers.folders import FolderOut
from playground.api.serializers.tools import EmbeddingConfigOut, ToolOut, tool_rules_field


class AgentListQuery(ListQuery):
    name = serializers.CharField(required=False, allow_null=True, max_length=200)
    query_text = serializers.CharField(required=False, allow_null=True, max_length=200, help_text="Part of the name.")
    tags = tags_field()
    match_all_tags = serializers.BooleanField(required=False, default=False)
    ascending = serializers.BooleanField(required=False, allow_null=True)
    last_stop_reason = serializers.CharField(required=False, allow_null=True, max_length=40)


class TagListQuery(serializers.Serializer):
    after = serializers.CharField(required=False, allow_null=True, max_length=100, help_text="Cursor: a tag.")
    before = serializers.CharField(required=False, allow_null=True, max_length=100, help_text="Cursor: a tag.")
    limit = serializers.IntegerField(required=False, default=50, min_value=1, max_value=1000)
    name = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=100,
                                 help_text="Tags containing this text.")
    query_text = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=100,
                                       help_text="Deprecated in Letta: name.")
    order = serializers.ChoiceField(["asc", "desc"], required=False, default="asc")
    order_by = serializers.ChoiceField(["name"], required=False, default="name")


def _temperature(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 2:
        raise serializers.ValidationError({"temperature": ["A number from 0 to 2."]})
    return float(value)


class _AgentFields(serializers.Serializer):
    """What create and update share; the validated data's `settings` are the agent's fields in our names."""

    name = serializers.CharField(max_length=200, required=False, allow_null=True)
    description = text_field(allow_blank=True, allow_null=True, required=False)
    system = text_field(allow_null=True, required=False)
    model = serializers.CharField(max_length=200, required=False, allow_null=True,
                                  help_text="A handle like openai/gpt-4o-mini, or the model's bare name.")
    embedding = serializers.CharField(max_length=200, required=False, allow_null=True,
                                      help_text="local/all-MiniLM-L6-v2 or openai/<model>.")
    context_window_limit = serializers.IntegerField(min_value=2048, max_value=10_000_000, required=False, allow_null=True)
    tags = tags_field()
    block_ids = ids_field()
    model_settings = serializers.JSONField(required=False, allow_null=True, help_text="Only temperature is used.")
    llm_config = serializers.JSONField(required=False, allow_null=True,
                                       help_text="Deprecated in Letta; model, context_window and temperature are used.")
    embedding_config = serializers.JSONField(required=False, allow_null=True, help_text="Only handle is used.")

    def validate(self, attrs: dict) -> dict:
        llm = attrs.get("llm_config") or {}
        model_settings = attrs.get("model_settings") or {}
        embedding_config = attrs.get("embedding_config") or {}
        for name, value in (("llm_config", llm), ("model_settings", model_settings), ("embedding_config", embedding_config)):
            if not isinstance(value, dict):
                raise serializers.ValidationError({name: ["An object."]})
        out: dict[str, Any] = {}
        for ours, value in (("name", attrs.get("name")), ("description", attrs.get("description")),
                            ("system", attrs.get("system")), ("tags", attrs.get("tags"))):
            if value is not None:
                out[ours] = value
        model = attrs.get("model") or llm.get("handle") or llm.get("model")
        if model is not None:
            if not isinstance(model, str) or not model.strip() or len(model) > 200:
                raise serializers.ValidationError({"model": ["A model name or handle."]})
            out["model"] = model.strip()
        embedding = attrs.get("embedding") or embedding_config.get("handle")
        if embedding is not None:
            problem = embedding_problem(embedding) if isinstance(embedding, str) else "a handle is text"
            if problem:
                raise serializers.ValidationError({"embedding": [problem]})
            out["embedding_model"] = embedding
        window = attrs.get("context_window_limit") or llm.get("context_window")
        if window is not None:
            if isinstance(window, bool) or not isinstance(window, int) or not 2048 <= window <= 10_000_000:
                raise serializers.ValidationError({"context_window_limit": ["A whole number of tokens, 2048 or more."]})
            out["context_window"] = window
        temperature = _temperature(model_settings.get("temperature", llm.get("temperature")))
        if temperature is not None:
            out["temperature"] = temperature
        attrs["settings"] = out
        return attrs


class AgentCreate(_AgentFields):
    # the validated data's `folder_ids` are those named as folder_ids or (as before) source_ids
    memory_blocks = BlockCreate(many=True, required=False, allow_null=True, max_length=100)
    tools = serializers.ListField(child=serializers.CharField(max_length=200), required=False, allow_null=True, max_length=100,
                                  help_text="Names of tools to give the agent: built-in ones or yours.")
    tool_ids = ids_field()
    tool_rules = tool_rules_field()
    folder_ids = ids_field()
    source_ids = ids_field(help_text="Deprecated in Letta: folder_ids.")
    include_base_tools = serializers.BooleanField(required=False, default=True)
    include_multi_agent_tools = serializers.BooleanField(
        required=False, default=False, help_text="Give the agent the tools that message other agents of yours.")
    enable_sleeptime = serializers.BooleanField(required=False, default=False, allow_null=True,
                                                help_text="Give the agent a sleep-time agent that tidies its memory.")
    agent_type = serializers.CharField(required=False, allow_null=True, max_length=40, help_text="Ignored: MemGPT agents only.")

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        labels = [b["label"] for b in attrs.get("memory_blocks") or []]
        twice = sorted({label for label in labels if labels.count(label) > 1})
        if twice:
            raise serializers.ValidationError({"memory_blocks": [f"Two blocks are labelled {twice[0]!r}."]})
        memory_blocks = attrs.get("memory_blocks")
        attrs["settings"].setdefault("name", f"agent-{secrets.token_hex(3)}")  # Letta names an unnamed agent too
        # no blocks named at all: agent_create's persona and human blocks
        if memory_blocks is not None or attrs.get("block_ids"):
            attrs["settings"]["blocks"] = [dict(block) for block in memory_blocks or []]
        attrs["folder_ids"] = (attrs.get("folder_ids") or []) + (attrs.get("source_ids") or [])
        attrs["settings"]["include_base_tools"] = attrs["include_base_tools"]
        attrs["settings"]["include_multi_agent_tools"] = attrs["include_multi_agent_tools"]
        return attrs


class AgentUpdate(_AgentFields):
    message_ids = ids_field(help_text="Ignored: the context window is managed by the agent.")
    tool_ids = ids_field(help_text="The agent's whole tool set: replaces it.")
    tool_rules = tool_rules_field()

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        if attrs.get("tool_rules") is not None:  # agent_update checks them against the agent's tools
            attrs["settings"]["tool_rules"] = attrs["tool_rules"]
        return attrs


def agent_tool_fields(owner, data: dict, *, agent: Agent | None = None) -> dict:
    """What validated create data (or, with `agent`, update data) ask of the agent's tools, as
    agent_create and agent_update take it: "tool_ids" (keys of the tools named in `tools` and
    `tool_ids`; on update only if given: the whole new set) and "tool_rules" (if given). A tool the
    owner cannot use, or a rule naming a tool the agent will not have, is a ValidationError naming it."""
    out: dict[str, Any] = {}
    names, ids = data.get("tools"), data.get("tool_ids")
    if agent is None or names is not None or ids is not None:
        tools, missing = tools_named(owner, names=names or [], pks=_tool_keys(ids or []))
        if missing:
            field, shown = ("tools", missing[0]) if isinstance(missing[0], str) and missing[0] in (names or []) \
                else ("tool_ids", to_id("tool", missing[0]) if isinstance(missing[0], int) else missing[0])
            raise serializers.ValidationError({field: [
                f"Unknown tool {shown!r}: neither a built-in tool nor one of yours (GET /v1/tools/ lists them)."]})
        out["tool_ids"] = [t.pk for t in tools]
        builtin = (BASE_TOOL_NAMES if data.get("include_base_tools", True) else []) + \
            (MULTI_AGENT_TOOL_NAMES if data.get("include_multi_agent_tools") else [])
        if agent is None:
            tools += list(tools_usable_by(owner).filter(kind=Tool.Kind.BUILTIN, name__in=builtin))
    else:
        tools = agent_tools(agent)
    if (rules := data.get("tool_rules")) is not None:
        have = {t.name for t in tools}
        if unknown := [name for name in rule_tool_names(rules) if name not in have]:
            raise serializers.ValidationError({"tool_rules": [
                f"A rule names the tool {unknown[0]!r}, which the agent does not have."]})
        out["tool_rules"] = rules
    return out


def _tool_keys(ids: list[str]) -> list[int | str]:
    """Keys of "tool-<pk>" ids; an id of another shape stays as given, to be reported unknown."""
    keys: list[int | str] = []
    for value in ids:
        try:
            keys.append(from_id("tool", value))
        except NotFound:
            keys.append(value)
    return keys


class LlmConfigOut(serializers.Serializer):
    model = serializers.CharField()
    model_endpoint_type = serializers.CharField()
    model_endpoint = serializers.CharField()
    context_window = serializers.IntegerField()
    temperature = serializers.FloatField()
    max_tokens = serializers.IntegerField()
    handle = serializers.CharField(allow_null=True)


class MemoryOut(serializers.Serializer):
    blocks = BlockOut(many=True)
    file_blocks = serializers.ListField(child=serializers.DictField())


class AgentOut(serializers.Serializer):
    """An agent as Letta's AgentState; needs the annotations of selectors.agents_of."""

    id = PublicId("agent", source="pk")
    name = serializers.CharField()
    description = serializers.CharField()
    system = serializers.CharField()
    agent_type = serializers.SerializerMethodField()
    tags = serializers.ListField(child=serializers.CharField())
    model = serializers.SerializerMethodField()
    embedding = serializers.CharField(source="embedding_model")
    llm_config = serializers.SerializerMethodField()
    embedding_config = serializers.SerializerMethodField()
    blocks = serializers.SerializerMethodField()
    memory = serializers.SerializerMethodField()
    tools = serializers.SerializerMethodField()
    sources = serializers.SerializerMethodField()
    message_ids = serializers.SerializerMethodField()
    metadata = serializers.SerializerMethodField()
    tool_rules = serializers.SerializerMethodField()
    timezone = serializers.SerializerMethodField()
    managed_group = serializers.SerializerMethodField()
    multi_agent_group = serializers.SerializerMethodField(help_text="Deprecated in Letta: managed_group.")
    enable_sleeptime = serializers.SerializerMethodField()
    last_stop_reason = serializers.CharField(allow_null=True)
    last_run_completion = serializers.DateTimeField(source="last_run_finished_at", allow_null=True)
    last_run_duration_ms = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_managed_group(self, agent: Agent) -> dict | None:
        return letta.group(agent.groups_managed[0]) if agent.groups_managed else None

    def get_multi_agent_group(self, agent: Agent) -> dict | None:
        return self.get_managed_group(agent)

    def get_enable_sleeptime(self, agent: Agent) -> bool:
        return any(group.kind == Group.Kind.SLEEPTIME for group in agent.groups_managed)

    def get_agent_type(self, agent: Agent) -> str:
        return "memgpt_agent"

    def get_model(self, agent: Agent) -> str | None:
        return letta.model_handle(agent.model, agent.owner_id)

    @extend_schema_field(LlmConfigOut)
    def get_llm_config(self, agent: Agent) -> dict:
        return letta.llm_config(agent)

    @extend_schema_field(EmbeddingConfigOut)
    def get_embedding_config(self, agent: Agent) -> dict:
        return letta.embedding_config(agent.embedding_model)

    @extend_schema_field(BlockOut(many=True))
    def get_blocks(self, agent: Agent) -> list:
        return BlockOut([a.block for a in agent.attachments], many=True).data

    @extend_schema_field(MemoryOut)
    def get_memory(self, agent: Agent) -> dict:
        return {"blocks": self.get_blocks(agent), "file_blocks": [], "agent_type": "memgpt_agent"}

    @extend_schema_field(ToolOut(many=True))
    def get_tools(self, agent: Agent) -> list:
        return [letta.tool(tool) for tool in agent.tool_set]

    @extend_schema_field(FolderOut(many=True))
    def get_sources(self, agent: Agent) -> list:
        return FolderOut(agent.folders, many=True).data

    def get_message_ids(self, agent: Agent) -> list[str]:
        return [to_id("message", m.pk) for m in agent.in_context]

    def get_metadata(self, agent: Agent) -> dict:
        return {}

    @extend_schema_field(serializers.ListField(child=serializers.DictField()))
    def get_tool_rules(self, agent: Agent) -> list:
        return agent.tool_rules

    def get_timezone(self, agent: Agent) -> str:
        return settings.TIME_ZONE

    def get_last_run_duration_ms(self, agent: Agent) -> int | None:
        if agent.last_run_started_at and agent.last_run_finished_at:
            return int((agent.last_run_finished_at - agent.last_run_started_at).total_seconds() * 1000)
        return None


class ContextOut(serializers.Serializer):
    """Letta's ContextWindowOverview, filled from our compiled context, plus `tokens`: our exact
    count per tier of the prompt the agent's next request would send."""

    context_window_size_max = serializers.IntegerField()
    context_window_size_current = serializers.IntegerField()
    num_messages = serializers.IntegerField()
    num_archival_memory = serializers.IntegerField()
    num_recall_memory = serializers.IntegerField()
    num_tokens_external_memory_summary = serializers.IntegerField()
    external_memory_summary = serializers.CharField()
    num_tokens_system = serializers.IntegerField()
    system_prompt = serializers.CharField()
    num_tokens_core_memory = serializers.IntegerField()
    core_memory = serializers.CharField()
    num_tokens_summary_memory = serializers.IntegerField()
    summary_memory = serializers.CharField(allow_null=True)
    num_tokens_functions_definitions = serializers.IntegerField()
    functions_definitions = serializers.ListField(child=serializers.DictField())
    num_tokens_messages = serializers.IntegerField()
    messages = serializers.ListField(child=serializers.DictField())
    tokens = serializers.DictField(help_text="Ours: system_instructions, tool_schemas, core_memory, memory_metadata, "
                                             "summary, messages, prompt_total, completion_reserve, context_window, "
                                             "encoding, approximate.")
