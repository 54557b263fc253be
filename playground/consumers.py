"""The agent's websocket: its events, as htmx fragments for the browser (or JSON with ?format=json)."""

from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.template import TemplateDoesNotExist
from django.template.loader import render_to_string

from agents.engine.context import TIERS
from agents.engine.events import MESSAGE_EVENTS, Event
from agents.events import agent_group, received
from agents.models import Agent, Group, Run
from memory.models import Block
from playground.forms import BlockForm
from playground.signals import user_group

# what the chat shows as items, the same on the page and live ("item-<type>" in the template): the
# messages (a tool result is shown in its call) and a failed turn's error; a step's usage line is an
# item too, put in place by the usage partial
CHAT_ITEMS = {*MESSAGE_EVENTS, "error"} - {"tool_result"}
LAST_STEP_CELLS = (*TIERS, "completion_reserve", "prompt_total")  # the inspector's "last step" column


@database_sync_to_async
def _owned_agent(user, agent_id: int) -> Agent | None:
    if not user.is_authenticated:
        return None
    return Agent.objects.filter(pk=agent_id, owner=user).first()


@database_sync_to_async
def _session_exists(session) -> bool:
    return session is not None and bool(session.session_key) and session.exists(session.session_key)


class LoggedInConsumer(AsyncJsonWebsocketConsumer):
    """A websocket that lives as long as the login it was opened with: it joins its user's group,
    where a logout says which session ended (playground.signals), and closes with 4401 then.
    4401 also refuses a socket with no login; 4403 one for someone else's row."""

    async def join_user(self) -> bool:
        """Join the user's group; False (and closed) if there is no live login."""
        user = self.scope["user"]
        if not user.is_authenticated:
            await self.close(code=4401)
            return False
        self.session_key = self.scope["session"].session_key
        self.user_group = user_group(user.pk)
        await self.channel_layer.group_add(self.user_group, self.channel_name)
        # checked after joining: a logout before this deleted the session, one after it reaches us
        if not await _session_exists(self.scope["session"]):
            await self.leave()
            await self.close(code=4401)
            return False
        return True

    async def leave(self) -> None:
        for name in ("group", "user_group"):
            if hasattr(self, name):
                await self.channel_layer.group_discard(getattr(self, name), self.channel_name)
                delattr(self, name)

    async def disconnect(self, code: int) -> None:
        await self.leave()

    async def session_ended(self, message: dict) -> None:
        if message.get("session_key") in (None, self.session_key):
            await self.leave()  # nothing more is sent to a socket whose login ended
            await self.close(code=4401)


class AgentConsumer(LoggedInConsumer):
    """Streams an agent's events to its owner, rendered from the events alone (no database)."""

    async def connect(self) -> None:
        if not await self.join_user():
            return
        agent_id = self.scope["url_route"]["kwargs"]["agent_id"]
        self.agent = await _owned_agent(self.scope["user"], agent_id)
        if self.agent is None:
            await self.leave()
            await self.close(code=4403)
            return
        query = parse_qs(self.scope.get("query_string", b"").decode())
        self.as_json = query.get("format") == ["json"]
        self.streaming: set[int] = set()  # runs whose content is streaming into a "thinking…" element here
        self.group = agent_group(agent_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def agent_event(self, message: dict) -> None:
        event = received(message)
        if self.as_json:
            await self.send_json(event)
            return
        html = self.fragment(event)
        if html.strip():
            await self.send(text_data=html)

    def fragment(self, event: Event) -> str:
        kind, run_id = event.kind, event["run_id"]
        if kind in ("tool_call_delta", "assistant_delta"):  # the page shows calls and replies once stored
            return ""
        context = {"agent": self.agent, "event": event, "live": True}
        html = ""
        if kind == "reasoning_delta":
            if run_id not in self.streaming:
                self.streaming.add(run_id)
                kind = "thought_start"
        elif run_id in self.streaming and kind != "usage":  # the step's usage comes before what it answered
            self.streaming.discard(run_id)
            html = render_to_string("agents/events.html#stream_end", context)
            if kind == "reasoning":
                return html  # the thought takes the place of its stream
        if kind in CHAT_ITEMS:
            return html + render_to_string("agents/events.html#live", context)
        if kind == "memory_change":
            context.update(_block_context(self.agent, event))
        elif kind == "usage":
            context.update(_last_step_context(event), streaming=run_id in self.streaming)
        try:
            return html + render_to_string(f"agents/events.html#{kind}", context)
        except TemplateDoesNotExist:  # a kind the browser does not show
            return html


@database_sync_to_async
def _owned_group(user, group_id: int) -> tuple[Group | None, list[int]]:
    """The user's group and the agents whose events may belong to its conversations (its members,
    its manager, and the agents its supervisor's messages reach: its members)."""
    group = Group.objects.filter(pk=group_id, owner=user).first() if user.is_authenticated else None
    if group is None:
        return None, []
    return group, [*group.memberships.values_list("agent_id", flat=True), *([group.manager_id] if group.manager_id else [])]


@database_sync_to_async
def _group_run(group_id: int, run_id: int) -> Run | None:
    return Run.objects.select_related("agent").filter(pk=run_id, group_turn__group_id=group_id).first()


class GroupConsumer(AgentConsumer):
    """Streams the runs of a group's conversations to its owner: every agent's answer, each under
    its name, from the events of its agents' groups (the runs of other conversations are left out)."""

    SHOWN = {*CHAT_ITEMS, "tool_result", "reasoning_delta", "waiting", "run_started", "stop"}

    async def connect(self) -> None:
        if not await self.join_user():
            return
        self.group_row, agents = await _owned_group(self.scope["user"], self.scope["url_route"]["kwargs"]["group_id"])
        if self.group_row is None:
            await self.leave()
            await self.close(code=4403)
            return
        self.agent, self.as_json, self.streaming = None, False, set()
        self.runs: dict[int, Run] = {}  # the group's runs seen starting here
        self.groups = [agent_group(pk) for pk in agents]
        for name in self.groups:
            await self.channel_layer.group_add(name, self.channel_name)
        await self.accept()

    async def leave(self) -> None:
        for name in getattr(self, "groups", []):
            await self.channel_layer.group_discard(name, self.channel_name)
        self.groups = []
        await super().leave()

    async def agent_event(self, message: dict) -> None:
        event = received(message)
        run_id = event.get("run_id")
        if event.kind not in self.SHOWN or run_id is None:
            return
        if event.kind == "run_started" and run_id not in self.runs:
            run = await _group_run(self.group_row.pk, run_id)
            if run is None:
                return  # another conversation of the agent's
            self.runs[run_id] = run
        run = self.runs.get(run_id)
        if run is None:
            return
        if event.kind == "user_message" and run.trigger in (Run.Trigger.USER_MESSAGE, Run.Trigger.GROUP_MESSAGE):
            return  # the person's message, shown once above the answers
        if event.kind in ("run_started", "stop"):
            html = render_to_string(f"groups/detail.html#{event.kind}", {
                "event": event, "speaker": run.agent, "trigger": run.trigger})
        else:
            html = self.fragment(event)
        if html.strip():
            await self.send(text_data=html)


def _block_context(agent: Agent, event: Event) -> dict:
    """The block's form, from the block as the event has it."""
    block = Block(pk=event["block_id"], label=event["label"], value=event["value"], limit=event["limit"],
                  description=event["description"], read_only=event["read_only"])
    by_agent = event["actor"] == "agent"
    return {"block": block, "block_form": BlockForm(instance=block, agent=agent), "changed": by_agent,
            "saved": not by_agent, "actor": "the agent"}


def _last_step_context(event: Event) -> dict:
    """The inspector's "last step" figures, from the step's usage event."""
    tokens, reported = event["tokens"], (event["usage"] or {}).get("prompt_tokens")
    last_step = {"pk": event["step_id"], "index": event["step"], "run_id": event["run_id"], "tokens": tokens,
                 "prompt_tokens": reported}
    gap = reported - tokens.get("prompt_total", 0) if reported is not None else None
    return {"tiers": LAST_STEP_CELLS, "last_step": last_step, "gap": gap}


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


class SourceConsumer(LoggedInConsumer):
    """Live progress of a source's documents: each progress event re-renders the document's row."""

    async def connect(self) -> None:
        from memory.ingestion import source_group

        if not await self.join_user():
            return
        source_id = self.scope["url_route"]["kwargs"]["source_id"]
        if await _owned_source(self.scope["user"], source_id) is None:
            await self.leave()
            await self.close(code=4403)
            return
        self.group = source_group(source_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()

    async def document_progress(self, event: dict) -> None:
        row = await database_sync_to_async(_document_row)(event["document_id"])
        if row:
            await self.send(text_data=row)
