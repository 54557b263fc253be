"""The agent's websocket: its events, as htmx fragments for the browser (or JSON with ?format=json)."""

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.template.loader import render_to_string

from agents.events import agent_group
from agents.models import Agent
from playground.forms import BlockForm
from playground.presenters import call_dom_id, pretty_arguments
from playground.views.inspect import inspector_context

FRAGMENTS = {"run_started", "user_message", "reasoning_delta", "reasoning", "tool_call", "tool_result",
             "assistant_message", "system_alert", "summary", "memory_change", "usage", "retry", "error", "stop"}


@database_sync_to_async
def _owned_agent(user, agent_id: int) -> Agent | None:
    if not user.is_authenticated:
        return None
    return Agent.objects.filter(pk=agent_id, owner=user).first()


class AgentConsumer(AsyncJsonWebsocketConsumer):
    """Streams an agent's events to its owner."""

    async def connect(self) -> None:
        agent_id = self.scope["url_route"]["kwargs"]["agent_id"]
        self.agent = await _owned_agent(self.scope["user"], agent_id)
        if self.agent is None:
            await self.close(code=4403)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode())
        self.as_json = query.get("format") == ["json"]
        self.streamed: set[tuple[int, int]] = set()  # (run, step) whose thoughts are streaming here
        self.group = agent_group(agent_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def agent_event(self, message: dict) -> None:
        event = message["event"]
        if self.as_json:
            await self.send_json(event)
        elif event.get("type") in FRAGMENTS:
            await self.send(text_data=await self.fragment(event))

    async def fragment(self, event: dict) -> str:
        kind = event["type"]
        context = {"agent": self.agent, "event": event}
        if kind == "reasoning_delta":
            key = (event.get("run_id"), event["step"])
            if key not in self.streamed:
                self.streamed.add(key)
                kind = "thought_start"
        elif kind == "reasoning":
            context["streamed"] = (event.get("run_id"), event.get("step")) in self.streamed
        elif kind in ("tool_call", "tool_result", "memory_change", "usage"):
            context.update(await database_sync_to_async(fragment_context)(self.agent, event))
        return render_to_string(f"agents/events.html#{kind}", context)


def fragment_context(agent: Agent, event: dict) -> dict:
    """What a fragment needs beyond the event: the block's form, the inspector, a call's DOM id."""
    kind = event["type"]
    if kind in ("tool_call", "tool_result"):
        return {"dom_id": call_dom_id(event["tool_call_id"]), "arguments": pretty_arguments(event.get("arguments", ""))}
    if kind == "memory_change":
        block = agent.blocks.filter(label=event["label"]).first()
        by_agent = event.get("actor") == "agent"
        return {"block": block, "block_form": BlockForm(instance=block, agent=agent) if block else None,
                "changed": by_agent, "saved": not by_agent, "actor": "the agent"}
    if kind == "usage":
        return {"inspector": True, **inspector_context(Agent.objects.get(pk=agent.pk))}
    return {}


@database_sync_to_async
def _owned_source(user, source_id: int):
    from memory.models import Source

    return Source.objects.filter(pk=source_id, owner=user).first() if user.is_authenticated else None


def _document_row(document_id: int) -> str:
    from memory.models import Document

    document = Document.objects.filter(pk=document_id).first()
    if document is None:
        return ""
    return render_to_string("sources/list.html#document", {"document": document, "oob": True})


class SourceConsumer(AsyncJsonWebsocketConsumer):
    """Live progress of a source's documents: each progress event re-renders the document's row."""

    async def connect(self) -> None:
        from memory.ingestion import source_group

        source_id = self.scope["url_route"]["kwargs"]["source_id"]
        if await _owned_source(self.scope["user"], source_id) is None:
            await self.close(code=4403)
            return
        self.group = source_group(source_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "group"):
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def document_progress(self, event: dict) -> None:
        row = await database_sync_to_async(_document_row)(event["document_id"])
        if row:
            await self.send(text_data=row)
