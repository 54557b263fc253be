"""What an agent was just before one of its LLM calls, as the engine held it when it compiled the
request: kept with the step (Step.state), so that the agent can be forked or rewound to exactly that
point and its next request is the step's own, byte for byte (agents/history)."""

from dataclasses import asdict
from datetime import datetime
from typing import Any

from agents.engine.types import AgentState, BlockView


def take(state: AgentState, *, steps: int, called: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "system": state.system,
        "model": state.model,
        "temperature": state.temperature,
        "context_window": state.context_window,
        "completion_reserve": state.completion_reserve,
        "warning_share": state.warning_share,
        "evict_share": state.evict_share,
        "max_steps": state.max_steps,
        "memory_warning_sent": state.memory_warning_sent,
        "memory_edited_at": state.memory_edited_at.isoformat() if state.memory_edited_at else None,
        "blocks": [asdict(block) for block in state.blocks],
        # the window: the summary, then the in-context messages, oldest first
        "summary_id": state.summary.id if state.summary else None,
        "message_ids": [message.id for message in state.messages],
        "recall_count": state.recall_count,
        "archival_count": state.archival_count,
        "tools": [tool.name for tool in state.tools] if state.tools is not None else None,
        "tool_rules": state.tool_rules,
        "heartbeat_fallback": state.heartbeat_fallback,
        # the turn so far: its steps, and the calls the tool rules have seen
        "turn": {"steps": steps, "called": [list(call) for call in called]},
    }


def blocks_of(snapshot: dict[str, Any]) -> list[BlockView]:
    return [BlockView(**block) for block in snapshot["blocks"]]


def edited_at(snapshot: dict[str, Any]) -> datetime | None:
    value = snapshot.get("memory_edited_at")
    return datetime.fromisoformat(value) if value else None


def window_ids(snapshot: dict[str, Any]) -> list[int]:
    """The messages in the window at the step: the summary first, if any."""
    summary = snapshot.get("summary_id")
    return ([summary] if summary is not None else []) + list(snapshot["message_ids"])
