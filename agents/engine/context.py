"""The one context compiler: what the model is sent, and its exact token count per tier.

The LLM call and the inspector both use `compile_context`, so the inspector shows the prompt
that is sent, not a re-creation of it.
"""

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from agents.engine import prompts
from agents.engine.types import AgentState, BlockView, MessageView
from memory.tokens import REPLY_PRIMING, Tokenizer, _compact_json, _content_text, count_message, count_tools

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
TIERS = ("system_instructions", "tool_schemas", "core_memory", "memory_metadata", "summary", "messages")


@dataclass
class CompiledContext:
    messages: list[dict[str, Any]]  # the request's messages, exactly as sent
    tools: list[dict[str, Any]]
    tokens: dict[str, Any]  # per tier, the prompt total, the reserve and window, the encoding
    sections: dict[str, str]  # the text of each tier, for the inspector
    recall_count: int  # what the memory metadata says: messages in recall memory
    archival_count: int  # and passages in archival memory

    @property
    def prompt_tokens(self) -> int:
        return self.tokens["prompt_total"]


def core_memory_section(blocks: list[BlockView]) -> str:
    parts = ["<memory_blocks>", "The following memory blocks are currently engaged in your core memory unit:", ""]
    for block in blocks:
        parts += [
            f"<{block.label}>",
            "<description>",
            block.description or "(none)",
            "</description>",
            "<metadata>",
            f"- chars_current={len(block.value)}",
            f"- chars_limit={block.limit}",
            f"- read_only={'true' if block.read_only else 'false'}",
            "</metadata>",
            "<value>",
            block.value,
            "</value>",
            f"</{block.label}>",
        ]
    parts.append("</memory_blocks>")
    return "\n".join(parts)


def memory_metadata_section(state: AgentState) -> str:
    out_of_context = max(state.recall_count - len(state.messages) - (1 if state.summary else 0), 0)
    edited = prompts.timestamp(state.memory_edited_at) if state.memory_edited_at else "never"
    return "\n".join(
        [
            "<memory_metadata>",
            f"- Core memory was last edited: {edited}",
            f"- {state.recall_count} messages are stored in recall memory, {out_of_context} of them outside your "
            "context window (search them with conversation_search and conversation_search_date)",
            f"- {state.archival_count} passages are stored in archival memory (search them with archival_memory_search)",
            "</memory_metadata>",
        ]
    )


# the result a call gets when it has none: its turn was cut short before the call finished
MISSING_RESULT = ("No result: the turn stopped before this call finished (the worker stopped, or the conversation was "
                  "changed meanwhile). Call it again if it is still needed.")


def protocol_safe(messages: list[MessageView]) -> list[dict[str, Any]]:
    """The history as every chat API takes it: each tool call answered by a tool message right after
    its assistant message, and no tool message without its call. A call left without a result (a
    worker that died mid-turn, an undo or a reset pressed during a turn) gets a failed one; a result
    whose call left the window is left out. A history that is already right comes out unchanged."""
    out: list[dict[str, Any]] = []
    waiting: list[tuple[str, MessageView]] = []  # calls of the last assistant message still without a result

    def answer_the_rest() -> None:
        for call_id, asked in waiting:
            content = prompts.tool_result("Failed", MISSING_RESULT, asked.created_at or EPOCH)
            out.append({"role": "tool", "content": content, "tool_call_id": call_id})
        waiting.clear()

    for message in messages:
        if message.role == "tool":
            pending = next((w for w in waiting if w[0] == message.tool_call_id), None)
            if pending is not None:
                waiting.remove(pending)
                out.append(message.to_openai())
            continue
        answer_the_rest()
        out.append(message.to_openai())
        if message.role == "assistant" and message.tool_calls:
            waiting = [(call["id"], message) for call in message.tool_calls]
    answer_the_rest()
    return out


def compile_context(
    state: AgentState, *, tools: list[dict[str, Any]], tokenizer: Tokenizer, approximate: bool
) -> CompiledContext:
    # each separator ends the section before it: a section then ends in a newline and the next starts
    # with "<", where tiktoken's pre-tokenizer always splits, so counting the sections one by one
    # (cached: instructions and core memory rarely change between steps) is exact
    instructions = state.system + "\n\n"
    core = core_memory_section(state.blocks) + "\n\n"
    metadata = memory_metadata_section(state)
    system = {"role": "system", "content": instructions + core + metadata}
    history = protocol_safe(state.messages)
    summary = [state.summary.to_openai()] if state.summary else []
    messages = [system, *summary, *history]

    # the system message is tokenized whole; its tokens go to the tier their text starts in
    in_instructions, in_core, in_metadata = tokenizer.count_sections([instructions, core, metadata])
    system_overhead = count_message(tokenizer, system) - (in_instructions + in_core + in_metadata)
    tokens = {
        "system_instructions": system_overhead + in_instructions,
        "tool_schemas": count_tools(tokenizer, tools),
        "core_memory": in_core,
        "memory_metadata": in_metadata,
        "summary": sum(count_message(tokenizer, m) for m in summary),
        "messages": sum(count_message(tokenizer, m) for m in history) + REPLY_PRIMING,
    }
    exact = _server_counts(tokenizer, tokens, {
        "system_instructions": instructions, "tool_schemas": _compact_json(tools) if tools else "", "core_memory": core,
        "memory_metadata": metadata, "summary": "\n".join(_message_text(m) for m in summary),
        "messages": "\n".join(_message_text(m) for m in history)})
    tokens["prompt_total"] = sum(tokens[tier] for tier in TIERS)
    tokens.update(
        completion_reserve=state.completion_reserve,
        context_window=state.context_window,
        encoding=f"{getattr(tokenizer, 'server_name', '')} server tokenizer".lstrip() if exact else tokenizer.name,
        approximate=approximate and not exact,
    )
    sections = {
        "system_instructions": state.system,
        "tool_schemas": "",  # the inspector shows `tools` itself
        "core_memory": core.rstrip("\n"),
        "memory_metadata": metadata,
        "summary": state.summary.content if state.summary else "",
        "messages": "",
    }
    return CompiledContext(messages=messages, tools=tools, tokens=tokens, sections=sections,
                           recall_count=state.recall_count, archival_count=state.archival_count)


def _message_text(message: dict[str, Any]) -> str:
    """The text of a message that its tokens come from, as count_message reads it."""
    parts = [message["role"], _content_text(message.get("content")), message.get("name") or "",
             message.get("tool_call_id") or ""]
    return "\n".join([*filter(None, parts), *(_compact_json(call) for call in message.get("tool_calls") or ())])


def _server_counts(tokenizer: Tokenizer, tokens: dict[str, Any], texts: dict[str, str]) -> bool:
    """Where the tokenizer has a server's own counts of the tiers (one call a tier whose text changed, not
    one a message), each tier's text is counted by it instead: the chat format's overhead stays ours."""
    counted = tokenizer.count_tiers(texts)
    if counted is None:
        return False
    for tier, count in counted.items():
        tokens[tier] += count - len(tokenizer.encode(texts[tier]))
    return True


def over_flush_line(context: CompiledContext) -> bool:
    """The next request would not fit the window less the completion reserve."""
    t = context.tokens
    return t["prompt_total"] > t["context_window"] - t["completion_reserve"]


def over_warning_line(context: CompiledContext, warning_share: float) -> bool:
    t = context.tokens
    return t["prompt_total"] > warning_share * t["context_window"]
