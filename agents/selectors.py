"""Reads about agents."""

from django.utils import timezone

from agents.engine.context import CompiledContext, compile_context
from agents.engine.tools import TOOL_SCHEMAS
from agents.llm import model_name
from agents.models import Agent
from agents.storage import DjangoStore
from memory.models import Message, Passage
from memory.selectors import agent_blocks
from memory.tokens import tokenizer_for_model


def agent_for_owner(*, owner, agent_id: int | None = None, name: str | None = None) -> Agent:
    """One of the owner's agents; Agent.DoesNotExist for anyone else's."""
    agents = Agent.objects.filter(owner=owner)
    return agents.get(pk=agent_id) if agent_id is not None else agents.get(name=name)


def agent_context(*, agent: Agent) -> CompiledContext:
    """The context the agent's next request would send, as the engine compiles it."""
    state = DjangoStore(agent).load()
    tokenizer, approximate = tokenizer_for_model(state.model)
    return compile_context(state, tools=TOOL_SCHEMAS, tokenizer=tokenizer, approximate=approximate)


# --- used by the REST API ------------------------------------------------------------------------



AGENT_FILE_SETTINGS = ("warning_share", "evict_share", "completion_reserve", "max_steps")


def _moment(value) -> str | None:
    return value.isoformat() if value else None


def agent_file_export(*, agent: Agent, include_passages: bool = False) -> dict:
    """The agent as an agent file (Letta's .af layout, version 2): its settings, core memory blocks,
    whole message history with what is in context, its tools, and optionally its archival passages.
    Ids inside the file are the file's own ("agent-0", "block-1"), not database keys."""
    blocks = agent_blocks(agent_id=agent.pk)
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
        "tool_ids": [f"tool-{schema['function']['name']}" for schema in TOOL_SCHEMAS],
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
        "tool_rules": [],
        "include_base_tools": False,
    }
    tools = [{"id": f"tool-{s['function']['name']}", "name": s["function"]["name"], "tool_type": "letta_core",
              "description": s["function"]["description"], "json_schema": s["function"], "source_type": "python"}
             for s in TOOL_SCHEMAS]
    file = {
        "agents": [spec],
        "blocks": [{"id": f"block-{n}", "label": b.label, "value": b.value, "limit": b.limit,
                    "description": b.description, "read_only": b.read_only, "is_template": False, "metadata": {}}
                   for n, b in enumerate(blocks)],
        "tools": tools,
        "groups": [], "files": [], "sources": [], "mcp_servers": [],
        "metadata": {"exported_by": "memgpt-playground"},
        "created_at": _moment(timezone.now()),
    }
    if include_passages:
        file["passages"] = [{"agent_id": "agent-0", "text": p.text, "tags": p.tags, "created_at": _moment(p.created_at)}
                            for p in Passage.objects.filter(agent=agent).order_by("id")]
    return file
