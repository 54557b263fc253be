"""The one way agent events leave a turn: published to the agent's Channels group."""

from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer


def agent_group(agent_id: int) -> str:
    return f"agent-{agent_id}"


def publish(agent_id: int, event: dict[str, Any]) -> None:
    """Send one event (a dict with a "type" such as "reasoning" or "tool_call") to the agent's watchers."""
    async_to_sync(get_channel_layer().group_send)(
        agent_group(agent_id), {"type": "agent.event", "event": event}
    )
