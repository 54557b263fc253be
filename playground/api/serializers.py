"""Request validation and response shapes of the /v1 routes, after letta_client.types.

Inputs accept what the Letta SDK sends and ignore the fields the playground has no use for
(project ids, templates, identities); fields the playground cannot honour are refused with a
400 that says so. Outputs carry every field the SDK requires, plus a few of ours (marked).
"""

import re
import secrets
from typing import Any

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agents.models import Agent, Run, Step
from memory.models import Block, Document, Passage, Source
from playground.api import letta
from playground.api.ids import to_id

MAX_TEXT = 1_000_000  # characters in one text field; a block's own limit is checked by the service
LABEL = re.compile(r"^[A-Za-z0-9_.\-]+$")  # labels become XML-like tags in the prompt


def _text(**kwargs: Any) -> serializers.CharField:
    """A text field that keeps whitespace as given (block values, prompts)."""
    return serializers.CharField(trim_whitespace=False, max_length=MAX_TEXT, **kwargs)


def _label(**kwargs: Any) -> serializers.RegexField:
    return serializers.RegexField(LABEL, max_length=100, error_messages={
        "invalid": "A label may hold letters, digits, '_', '-' and '.', without spaces."}, **kwargs)


def _ids(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField(max_length=40), max_length=1000, allow_null=True,
                                 required=False, **kwargs)


def _tags() -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField(max_length=100), max_length=100, allow_null=True,
                                 required=False)


class DeletedOut(serializers.Serializer):
    message = serializers.CharField()


# --- lists ------------------------------------------------------------------------------------


class ListQuery(serializers.Serializer):
    after = serializers.CharField(required=False, allow_null=True, max_length=40, help_text="Cursor: an id of this list.")
    before = serializers.CharField(required=False, allow_null=True, max_length=40, help_text="Cursor: an id of this list.")
    limit = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=1000)
    order = serializers.ChoiceField(["asc", "desc"], required=False)
    order_by = serializers.CharField(required=False, max_length=40, help_text="Ignored: lists are in creation order.")


class AgentListQuery(ListQuery):
    name = serializers.CharField(required=False, allow_null=True, max_length=200)
    query_text = serializers.CharField(required=False, allow_null=True, max_length=200, help_text="Part of the name.")
    tags = _tags()
    match_all_tags = serializers.BooleanField(required=False, default=False)
    ascending = serializers.BooleanField(required=False, allow_null=True)
    last_stop_reason = serializers.CharField(required=False, allow_null=True, max_length=40)


class BlockListQuery(ListQuery):
    label = serializers.CharField(required=False, allow_null=True, max_length=100)
    label_search = serializers.CharField(required=False, allow_null=True, max_length=200)
    value_search = serializers.CharField(required=False, allow_null=True, max_length=200)
    description_search = serializers.CharField(required=False, allow_null=True, max_length=200)
    connected_to_agents_count_gt = serializers.IntegerField(required=False, allow_null=True, min_value=-1, max_value=10**6)
    connected_to_agents_count_lt = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=10**6)
    connected_to_agents_count_eq = serializers.ListField(child=serializers.IntegerField(min_value=0, max_value=10**6),
                                                         required=False, allow_null=True, max_length=100)


class MessageListQuery(ListQuery):
    include_return_message_types = serializers.ListField(child=serializers.ChoiceField(letta.MESSAGE_TYPES),
                                                         required=False, allow_null=True, max_length=20)
    use_assistant_message = serializers.BooleanField(required=False, default=True)


class RunListQuery(ListQuery):
    agent_id = serializers.CharField(required=False, allow_null=True, max_length=40)
    agent_ids = _ids()
    statuses = serializers.ListField(child=serializers.ChoiceField(list(letta.RUN_STATUS_OURS)), required=False,
                                     allow_null=True, max_length=10)
    active = serializers.BooleanField(required=False, allow_null=True, default=None)
    stop_reason = serializers.ChoiceField(Run.StopReason.values, required=False, allow_null=True)
    ascending = serializers.BooleanField(required=False, allow_null=True)


class StepListQuery(ListQuery):
    agent_id = serializers.CharField(required=False, allow_null=True, max_length=40)
    model = serializers.CharField(required=False, allow_null=True, max_length=200)
    start_date = serializers.DateTimeField(required=False, allow_null=True)
    end_date = serializers.DateTimeField(required=False, allow_null=True)


class PassageListQuery(ListQuery):
    ascending = serializers.BooleanField(required=False, allow_null=True)
    search = serializers.CharField(required=False, allow_null=True, max_length=1000, help_text="Words the text contains.")


# --- blocks -----------------------------------------------------------------------------------


class BlockCreate(serializers.Serializer):
    label = _label()
    value = _text(allow_blank=True)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_TEXT, default=5000)
    description = _text(allow_blank=True, allow_null=True, required=False)
    read_only = serializers.BooleanField(default=False)

    def validate(self, attrs: dict) -> dict:
        attrs["description"] = attrs.get("description") or ""
        return attrs


class BlockUpdate(serializers.Serializer):
    label = _label(required=False)
    value = _text(allow_blank=True, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_TEXT, required=False)
    description = _text(allow_blank=True, allow_null=True, required=False)
    read_only = serializers.BooleanField(required=False)

    def validate(self, attrs: dict) -> dict:
        if "description" in attrs:
            attrs["description"] = attrs["description"] or ""
        return attrs


class BlockOut(serializers.Serializer):
    id = serializers.SerializerMethodField()
    label = serializers.CharField()
    value = serializers.CharField()
    limit = serializers.IntegerField()
    description = serializers.CharField()
    read_only = serializers.BooleanField()
    is_template = serializers.SerializerMethodField()
    metadata = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()

    def get_id(self, block: Block) -> str:
        return to_id("block", block.pk)

    def get_is_template(self, block: Block) -> bool:
        return False

    def get_metadata(self, block: Block) -> dict:
        return {}

    def get_tags(self, block: Block) -> list[str]:
        return []


# --- agents -----------------------------------------------------------------------------------


def _temperature(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 2:
        raise serializers.ValidationError({"temperature": ["A number from 0 to 2."]})
    return float(value)


class _AgentFields(serializers.Serializer):
    """What create and update share; `settings()` gives the agent's fields in our names."""

    name = serializers.CharField(max_length=200, required=False, allow_null=True)
    description = _text(allow_blank=True, allow_null=True, required=False)
    system = _text(allow_null=True, required=False)
    model = serializers.CharField(max_length=200, required=False, allow_null=True,
                                  help_text="A handle like openai/gpt-4o-mini, or the model's bare name.")
    embedding = serializers.CharField(max_length=200, required=False, allow_null=True,
                                      help_text="local/all-MiniLM-L6-v2 or openai/<model>.")
    context_window_limit = serializers.IntegerField(min_value=2048, max_value=10_000_000, required=False, allow_null=True)
    tags = _tags()
    block_ids = _ids()
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
            problem = letta.embedding_problem(embedding) if isinstance(embedding, str) else "a handle is text"
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
        self.settings = out
        return attrs


class AgentCreate(_AgentFields):
    memory_blocks = BlockCreate(many=True, required=False, allow_null=True, max_length=100)
    tools = serializers.ListField(child=serializers.CharField(max_length=200), required=False, allow_null=True, max_length=100,
                                  help_text="Built-in tools only; every agent has all of them.")
    tool_ids = _ids()
    folder_ids = _ids()
    source_ids = _ids(help_text="Deprecated in Letta: folder_ids.")
    include_base_tools = serializers.BooleanField(required=False, default=True)
    agent_type = serializers.CharField(required=False, allow_null=True, max_length=40, help_text="Ignored: MemGPT agents only.")

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        labels = [b["label"] for b in attrs.get("memory_blocks") or []]
        twice = sorted({label for label in labels if labels.count(label) > 1})
        if twice:
            raise serializers.ValidationError({"memory_blocks": [f"Two blocks are labelled {twice[0]!r}."]})
        names = (attrs.get("tools") or []) + [i.removeprefix("tool-") for i in attrs.get("tool_ids") or []]
        unknown = [name for name in names if name not in letta.TOOLS]
        if unknown:
            raise serializers.ValidationError({"tools": [
                f"Unknown tool {unknown[0]!r}: only the built-in tools exist here ({', '.join(letta.TOOLS)})."]})
        memory_blocks = attrs.get("memory_blocks")
        self.settings.setdefault("name", f"agent-{secrets.token_hex(3)}")  # Letta names an unnamed agent too
        # no blocks named at all: agent_create's persona and human blocks
        if memory_blocks is not None or attrs.get("block_ids"):
            self.settings["blocks"] = [dict(block) for block in memory_blocks or []]
        self.folder_ids = (attrs.get("folder_ids") or []) + (attrs.get("source_ids") or [])
        return attrs


class AgentUpdate(_AgentFields):
    message_ids = _ids(help_text="Ignored: the context window is managed by the agent.")


class LlmConfigOut(serializers.Serializer):
    model = serializers.CharField()
    model_endpoint_type = serializers.CharField()
    model_endpoint = serializers.CharField()
    context_window = serializers.IntegerField()
    temperature = serializers.FloatField()
    max_tokens = serializers.IntegerField()
    handle = serializers.CharField(allow_null=True)


class EmbeddingConfigOut(serializers.Serializer):
    embedding_model = serializers.CharField()
    embedding_endpoint_type = serializers.CharField()
    embedding_dim = serializers.IntegerField()
    handle = serializers.CharField()


class ToolOut(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    json_schema = serializers.DictField()
    tool_type = serializers.CharField()
    source_type = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())


class FolderOut(serializers.Serializer):
    id = serializers.SerializerMethodField()
    name = serializers.CharField()
    description = serializers.CharField()
    instructions = serializers.SerializerMethodField()
    embedding_config = serializers.SerializerMethodField()
    metadata = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField(source="created_at")

    def get_id(self, folder: Source) -> str:
        return to_id("source", folder.pk)

    def get_instructions(self, folder: Source) -> str:
        return ""

    @extend_schema_field(EmbeddingConfigOut)
    def get_embedding_config(self, folder: Source) -> dict:
        return letta.embedding_config(settings.EMBEDDING_MODEL)  # documents are embedded with it

    def get_metadata(self, folder: Source) -> dict:
        return {}


class MemoryOut(serializers.Serializer):
    blocks = BlockOut(many=True)
    file_blocks = serializers.ListField(child=serializers.DictField())


class AgentOut(serializers.Serializer):
    """An agent as Letta's AgentState; needs the annotations of selectors.agents_of."""

    id = serializers.SerializerMethodField()
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
    last_stop_reason = serializers.CharField(allow_null=True)
    last_run_completion = serializers.DateTimeField(source="last_run_finished_at", allow_null=True)
    last_run_duration_ms = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_id(self, agent: Agent) -> str:
        return to_id("agent", agent.pk)

    def get_agent_type(self, agent: Agent) -> str:
        return "memgpt_agent"

    def get_model(self, agent: Agent) -> str | None:
        return letta.model_handle(agent.model)

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
        return [letta.tool(name) for name in letta.TOOLS]

    @extend_schema_field(FolderOut(many=True))
    def get_sources(self, agent: Agent) -> list:
        return FolderOut(agent.folders, many=True).data

    def get_message_ids(self, agent: Agent) -> list[str]:
        return [to_id("message", m.pk) for m in agent.in_context]

    def get_metadata(self, agent: Agent) -> dict:
        return {}

    def get_tool_rules(self, agent: Agent) -> list:
        return []

    def get_timezone(self, agent: Agent) -> str:
        return settings.TIME_ZONE

    def get_last_run_duration_ms(self, agent: Agent) -> int | None:
        if agent.last_run_started_at and agent.last_run_finished_at:
            return int((agent.last_run_finished_at - agent.last_run_started_at).total_seconds() * 1000)
        return None


# --- archival memory --------------------------------------------------------------------------


class PassageCreate(serializers.Serializer):
    text = _text()
    tags = _tags()
    created_at = serializers.DateTimeField(required=False, allow_null=True, help_text="Ignored: set when stored.")


class PassageOut(serializers.Serializer):
    id = serializers.SerializerMethodField()
    text = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField(source="created_at")
    agent_id = serializers.SerializerMethodField(help_text="Ours: the agent whose own memory it is.")
    file_id = serializers.SerializerMethodField()
    file_name = serializers.SerializerMethodField()
    source_id = serializers.SerializerMethodField()
    embedding = serializers.SerializerMethodField()
    embedding_config = serializers.SerializerMethodField()
    metadata = serializers.SerializerMethodField()

    def get_id(self, passage: Passage) -> str:
        return to_id("passage", passage.pk)

    def get_agent_id(self, passage: Passage) -> str | None:
        return to_id("agent", passage.agent_id)

    def get_file_id(self, passage: Passage) -> str | None:
        return to_id("file", passage.document_id)

    def get_file_name(self, passage: Passage) -> str | None:
        return passage.document.filename if passage.document_id else None

    def get_source_id(self, passage: Passage) -> str | None:
        return to_id("source", passage.document.source_id) if passage.document_id else None

    @extend_schema_field(serializers.ListField(child=serializers.FloatField(), allow_null=True))
    def get_embedding(self, passage: Passage) -> None:
        return None  # vectors stay on the server

    @extend_schema_field(EmbeddingConfigOut)
    def get_embedding_config(self, passage: Passage) -> dict:
        return letta.embedding_config(passage.embedding_model)

    def get_metadata(self, passage: Passage) -> dict:
        if passage.page_start is None:
            return {}
        return {"page_start": passage.page_start, "page_end": passage.page_end}


class ArchivalSearchQuery(serializers.Serializer):
    query = serializers.CharField(max_length=1000)
    tags = _tags()
    tag_match_mode = serializers.ChoiceField(["any", "all"], default="any")
    top_k = serializers.IntegerField(min_value=1, max_value=100, required=False, allow_null=True)
    start_datetime = serializers.DateTimeField(required=False, allow_null=True)
    end_datetime = serializers.DateTimeField(required=False, allow_null=True)


class ArchivalHitOut(serializers.Serializer):
    id = serializers.CharField()
    content = serializers.CharField()
    timestamp = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())


class ArchivalSearchOut(serializers.Serializer):
    count = serializers.IntegerField()
    results = ArchivalHitOut(many=True)


class PassageSearch(serializers.Serializer):
    query = serializers.CharField(max_length=1000, required=False, allow_null=True, allow_blank=True)
    agent_id = serializers.CharField(max_length=40, required=False, allow_null=True)
    archive_id = serializers.CharField(max_length=40, required=False, allow_null=True,
                                       help_text="Archives do not exist here: use agent_id.")
    tags = _tags()
    tag_match_mode = serializers.ChoiceField(["any", "all"], default="any")
    start_date = serializers.DateTimeField(required=False, allow_null=True)
    end_date = serializers.DateTimeField(required=False, allow_null=True)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=50)
    search_mode = serializers.ChoiceField(["hybrid", "vector", "fts"], default="hybrid", help_text="Ours.")


class PassageHitOut(serializers.Serializer):
    passage = PassageOut()
    score = serializers.FloatField(help_text="Reciprocal-rank-fusion score: higher is better.")
    metadata = serializers.DictField()


# --- messages ---------------------------------------------------------------------------------


def _content_text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list) and content:
        parts = []
        for part in content:
            if not (isinstance(part, dict) and part.get("type", "text") == "text" and isinstance(part.get("text"), str)):
                raise serializers.ValidationError({where: ["Only text content can be sent (no images or tool returns)."]})
            parts.append(part["text"])
        return "\n".join(parts)
    raise serializers.ValidationError({where: ["Text, or a list of {\"type\": \"text\", \"text\": ...} parts."]})


class MessageSend(serializers.Serializer):
    messages = serializers.ListField(child=serializers.JSONField(), required=False, allow_null=True, max_length=1,
                                     help_text="One user message: {\"role\": \"user\", \"content\": \"...\"}.")
    input = serializers.JSONField(required=False, allow_null=True, help_text="The user's message, instead of messages.")
    streaming = serializers.BooleanField(default=False)
    stream_tokens = serializers.BooleanField(default=False, help_text="Ignored: steps are streamed whole.")
    include_pings = serializers.BooleanField(default=False)
    background = serializers.BooleanField(default=False, help_text="Ignored: every turn runs in the worker.")
    use_assistant_message = serializers.BooleanField(default=True)
    include_return_message_types = serializers.ListField(child=serializers.ChoiceField(letta.MESSAGE_TYPES),
                                                         required=False, allow_null=True, max_length=20)
    include_compaction_messages = serializers.BooleanField(default=False)
    max_steps = serializers.IntegerField(required=False, min_value=1, max_value=100,
                                         help_text="Ignored: the agent's own step limit applies.")

    def validate(self, attrs: dict) -> dict:
        messages, given = attrs.get("messages") or [], attrs.get("input")
        if given is not None:
            text = _content_text(given, "input")
        elif messages:
            message = messages[0]
            if not isinstance(message, dict) or message.get("type", "message") != "message":
                raise serializers.ValidationError({"messages": ["Approvals and tool returns are not supported here."]})
            if message.get("role") != "user":
                raise serializers.ValidationError({"messages": ["Only a user message can start a turn."]})
            text = _content_text(message.get("content"), "messages.0.content")
        else:
            raise serializers.ValidationError({"messages": ["Give the user's message in messages or input."]})
        if not text.strip():
            raise serializers.ValidationError({"messages": ["The message is empty."]})
        if "\x00" in text or len(text) > MAX_TEXT:
            raise serializers.ValidationError({"messages": ["The message has a NUL character or is too long."]})
        attrs["text"] = text
        return attrs


class MessageOut(serializers.Serializer):
    """One Letta message; the fields present depend on message_type."""

    message_type = serializers.ChoiceField(letta.MESSAGE_TYPES)
    id = serializers.CharField()
    date = serializers.DateTimeField()
    run_id = serializers.CharField(allow_null=True)
    step_id = serializers.CharField(allow_null=True)
    content = serializers.CharField(required=False)
    reasoning = serializers.CharField(required=False)
    summary = serializers.CharField(required=False)
    tool_call = serializers.DictField(required=False)
    tool_call_id = serializers.CharField(required=False)
    tool_return = serializers.CharField(required=False)
    status = serializers.CharField(required=False)


class StopReasonOut(serializers.Serializer):
    message_type = serializers.CharField()
    stop_reason = serializers.ChoiceField(Run.StopReason.values)


class UsageOut(serializers.Serializer):
    message_type = serializers.CharField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()
    step_count = serializers.IntegerField()
    run_ids = serializers.ListField(child=serializers.CharField())
    context_tokens = serializers.IntegerField(allow_null=True, help_text="Our exact count of the last prompt sent.")


class LettaResponseOut(serializers.Serializer):
    messages = MessageOut(many=True)
    stop_reason = StopReasonOut()
    usage = UsageOut()
    error = serializers.CharField(required=False, help_text="Ours: why the turn failed.")


class MessageSearch(serializers.Serializer):
    query = serializers.CharField(max_length=1000)
    agent_id = serializers.CharField(max_length=40, required=False, allow_null=True)
    conversation_id = serializers.CharField(max_length=40, required=False, allow_null=True,
                                            help_text="Conversations do not exist here: ignored.")
    search_mode = serializers.ChoiceField(["hybrid", "vector", "fts"], default="hybrid")
    start_date = serializers.DateTimeField(required=False, allow_null=True)
    end_date = serializers.DateTimeField(required=False, allow_null=True)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=50)


class MessageHitOut(serializers.Serializer):
    message_type = serializers.ChoiceField(["user_message", "assistant_message"])
    message_id = serializers.CharField()
    agent_id = serializers.CharField()
    content = serializers.CharField()
    created_at = serializers.DateTimeField()


class CancelIn(serializers.Serializer):
    run_ids = _ids()


class ResetIn(serializers.Serializer):
    add_default_initial_messages = serializers.BooleanField(default=False, help_text="Ignored: no initial messages here.")


# --- runs and steps ---------------------------------------------------------------------------


class RunOut(serializers.Serializer):
    id = serializers.SerializerMethodField()
    agent_id = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    stop_reason = serializers.SerializerMethodField()
    background = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(source="finished_at", allow_null=True)
    total_duration_ns = serializers.SerializerMethodField()
    metadata = serializers.SerializerMethodField()

    def get_id(self, run: Run) -> str:
        return to_id("run", run.pk)

    def get_agent_id(self, run: Run) -> str:
        return to_id("agent", run.agent_id)

    @extend_schema_field(serializers.ChoiceField(list(letta.RUN_STATUS_OURS)))
    def get_status(self, run: Run) -> str:
        return letta.RUN_STATUS[run.status]

    def get_stop_reason(self, run: Run) -> str | None:
        return run.stop_reason or None

    def get_background(self, run: Run) -> bool:
        return True

    def get_total_duration_ns(self, run: Run) -> int | None:
        if run.started_at and run.finished_at:
            return int((run.finished_at - run.started_at).total_seconds() * 1e9)
        return None

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_metadata(self, run: Run) -> dict:
        return {"trigger": run.trigger, "error": run.error or None}


class StepOut(serializers.Serializer):
    id = serializers.SerializerMethodField()
    run_id = serializers.SerializerMethodField()
    agent_id = serializers.SerializerMethodField()
    model = serializers.CharField()
    model_endpoint = serializers.SerializerMethodField()
    context_window_limit = serializers.IntegerField(source="agent.context_window")
    prompt_tokens = serializers.IntegerField(allow_null=True)
    completion_tokens = serializers.IntegerField(allow_null=True)
    total_tokens = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    error_type = serializers.SerializerMethodField()
    error_data = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()
    # ours: the full-prompt trace's numbers
    index = serializers.IntegerField()
    purpose = serializers.CharField()
    latency_ms = serializers.FloatField(allow_null=True)
    tokens = serializers.JSONField(help_text="Our exact token count of the prompt, per tier.")
    created_at = serializers.DateTimeField()

    def get_id(self, step: Step) -> str:
        return to_id("step", step.pk)

    def get_run_id(self, step: Step) -> str:
        return to_id("run", step.run_id)

    def get_agent_id(self, step: Step) -> str:
        return to_id("agent", step.agent_id)

    def get_model_endpoint(self, step: Step) -> str | None:
        return settings.OPENAI_BASE_URL or None

    def get_total_tokens(self, step: Step) -> int | None:
        if step.prompt_tokens is None and step.completion_tokens is None:
            return None
        return (step.prompt_tokens or 0) + (step.completion_tokens or 0)

    @extend_schema_field(serializers.ChoiceField(["success", "failed"]))
    def get_status(self, step: Step) -> str:
        return "failed" if step.error else "success"

    def get_error_type(self, step: Step) -> str | None:
        return "llm_api_error" if step.error else None

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_error_data(self, step: Step) -> dict | None:
        return {"message": step.error} if step.error else None

    def get_tags(self, step: Step) -> list[str]:
        return []


class StepTraceOut(serializers.Serializer):
    id = serializers.CharField()
    step_id = serializers.CharField()
    run_id = serializers.CharField()
    agent_id = serializers.CharField()
    request_json = serializers.JSONField()
    response_json = serializers.JSONField()
    latency_ms = serializers.IntegerField(allow_null=True)
    call_type = serializers.CharField()
    created_at = serializers.DateTimeField()


class RunUsageOut(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()


# --- folders and files ------------------------------------------------------------------------


class FolderCreate(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = _text(allow_blank=True, allow_null=True, required=False)
    instructions = _text(allow_blank=True, allow_null=True, required=False, help_text="Ignored.")
    embedding = serializers.CharField(max_length=200, required=False, allow_null=True,
                                      help_text=f"Only the server's own ({'EMBEDDING_MODEL'}) is possible.")
    embedding_config = serializers.JSONField(required=False, allow_null=True, help_text="Ignored.")
    metadata = serializers.JSONField(required=False, allow_null=True, help_text="Ignored.")

    def validate_embedding(self, value: str | None) -> str | None:
        if value and value != settings.EMBEDDING_MODEL:
            raise serializers.ValidationError(f"Documents are embedded with {settings.EMBEDDING_MODEL} on this server.")
        return value


class FolderUpdate(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    description = _text(allow_blank=True, allow_null=True, required=False)


class FileUpload(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=False)
    duplicate_handling = serializers.ChoiceField(["skip", "error", "suffix", "replace"], default="suffix")
    name = serializers.CharField(max_length=255, required=False, allow_null=True)


FILE_STATUS = {Document.Status.PENDING: "pending", Document.Status.PARSING: "parsing",
               Document.Status.EMBEDDING: "embedding", Document.Status.DONE: "completed",
               Document.Status.ERROR: "error", Document.Status.CANCELLED: "error"}


class FileOut(serializers.Serializer):
    id = serializers.SerializerMethodField()
    source_id = serializers.SerializerMethodField()
    file_name = serializers.CharField(source="filename")
    original_file_name = serializers.CharField(source="filename")
    file_size = serializers.IntegerField(source="size")
    file_type = serializers.CharField(source="content_type")
    processing_status = serializers.SerializerMethodField()
    error_message = serializers.SerializerMethodField()
    total_chunks = serializers.IntegerField(source="chunks_total")
    chunks_embedded = serializers.IntegerField()
    pages_total = serializers.IntegerField(help_text="Ours.")
    pages_parsed = serializers.IntegerField(help_text="Ours.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_id(self, document: Document) -> str:
        return to_id("file", document.pk)

    def get_source_id(self, document: Document) -> str:
        return to_id("source", document.source_id)

    @extend_schema_field(serializers.ChoiceField(sorted(set(FILE_STATUS.values()))))
    def get_processing_status(self, document: Document) -> str:
        return FILE_STATUS.get(document.status, "error")

    def get_error_message(self, document: Document) -> str | None:
        return document.error or None


# --- agent files ------------------------------------------------------------------------------


class ExportQuery(serializers.Serializer):
    include_passages = serializers.BooleanField(default=False, help_text="Ours: put archival passages in the file.")
    scrub_messages = serializers.BooleanField(default=False)
    use_legacy_format = serializers.BooleanField(default=False)
    max_steps = serializers.IntegerField(required=False, min_value=0, help_text="Ignored.")
    conversation_id = serializers.CharField(required=False, allow_null=True, max_length=40, help_text="Ignored.")

    def validate_use_legacy_format(self, value: bool) -> bool:
        if value:
            raise serializers.ValidationError("Only the version 2 agent file format is written here.")
        return value


class ImportForm(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=False)
    name = serializers.CharField(max_length=200, required=False, allow_null=True)
    override_name = serializers.CharField(max_length=200, required=False, allow_null=True)
    append_copy_suffix = serializers.BooleanField(default=False)
    strip_messages = serializers.BooleanField(default=False)
    model = serializers.CharField(max_length=200, required=False, allow_null=True)
    override_model_handle = serializers.CharField(max_length=200, required=False, allow_null=True)
    embedding = serializers.CharField(max_length=200, required=False, allow_null=True)
    override_embedding_handle = serializers.CharField(max_length=200, required=False, allow_null=True)

    def validate(self, attrs: dict) -> dict:
        embedding = attrs.get("embedding") or attrs.get("override_embedding_handle")
        if embedding and (problem := letta.embedding_problem(embedding)):
            raise serializers.ValidationError({"embedding": [problem]})
        return attrs


class ImportOut(serializers.Serializer):
    agent_ids = serializers.ListField(child=serializers.CharField())


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
