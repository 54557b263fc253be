from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from agents.events import agent_group
from agents.models import Agent


@database_sync_to_async
def _owns_agent(user, agent_id: int) -> bool:
    return user.is_authenticated and Agent.objects.filter(pk=agent_id, owner=user).exists()


class AgentConsumer(AsyncJsonWebsocketConsumer):
    """Streams an agent's events to its owner's browser."""

    async def connect(self) -> None:
        self.agent_id = self.scope["url_route"]["kwargs"]["agent_id"]
        if not await _owns_agent(self.scope["user"], self.agent_id):
            await self.close(code=4403)
            return
        self.group = agent_group(self.agent_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def agent_event(self, message: dict) -> None:
        await self.send_json(message["event"])
