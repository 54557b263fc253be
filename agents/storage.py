"""The engine's Store on Django models: every write commits on its own, nothing is held open
across an LLM call."""

from django.db import connection

from agents.engine.types import AgentState, BlockView, MessageView, SearchHit, SearchPage, StepRecord, ToolSpec, Wakeup
from agents.llm import agent_model_name
from agents.models import Agent, Run, ScheduledMessage, Step, Tool
from memory import selectors as memory_selectors
from memory import services as memory_services
from memory.models import Block, BlockRevision, Message, Passage
from memory.text import clean
from memory.search import MessageScope, PassageScope

MESSAGE_FIELDS = ("role", "kind", "content", "text", "tool_calls", "tool_call_id", "name")


def message_view(message: Message) -> MessageView:
    return MessageView(message.pk, message.role, message.kind, message.content, message.text, message.tool_calls,
                       message.tool_call_id, message.name, message.created_at, message.run_id, message.step_id)


def block_view(block: Block) -> BlockView:
    return BlockView(block.label, block.value, block.limit, block.description, block.read_only, block.pk)


def _fields(view: MessageView) -> dict:
    fields = {name: getattr(view, name) for name in MESSAGE_FIELDS}
    for name in ("content", "text", "tool_call_id", "name"):  # the last guard: an exception's text, say
        fields[name] = clean(fields[name] or "")
    fields["tool_calls"] = fields["tool_calls"] or None
    if view.id is not None:  # reserved before it was written (DjangoStore.reserve_message_id)
        fields["id"] = view.id
    return fields


def _citation(passage: Passage) -> dict:
    if passage.document is None:
        return {}
    pages = passage.page_start if passage.page_start == passage.page_end else f"{passage.page_start}-{passage.page_end}"
    return {"document": passage.document.filename, "pages": pages} if passage.page_start else {"document": passage.document.filename}


def tool_spec(tool: Tool) -> ToolSpec:
    return ToolSpec(name=tool.name, schema=tool.json_schema, kind=tool.kind, source=tool.source_code,
                    requirements=tuple(tool.pip_requirements), return_char_limit=tool.return_char_limit,
                    takes_agent_state=tool.takes_agent_state)


class DjangoStore:
    def __init__(self, agent: Agent, *, run_id: int | None = None) -> None:
        self.agent = agent
        self.run_id = run_id
        self.block_ids: dict[str, int] = {}
        self.tool_ids: list[int] = []
        self.unembedded: list[Message] = []

    def load(self) -> AgentState:
        agent = self.agent
        blocks = memory_selectors.agent_blocks(agent_id=agent.pk)
        self.block_ids = {b.label: b.pk for b in blocks}
        in_context = memory_selectors.in_context_messages(agent_id=agent.pk)
        summary = next((m for m in reversed(in_context) if m.kind == Message.Kind.SUMMARY), None)
        recall_count, archival_count = memory_selectors.memory_counts(agent_id=agent.pk)
        tools = list(agent.tools.order_by("kind", "pk"))  # built-ins in their own order
        self.tool_ids = [t.pk for t in tools]
        return AgentState(
            agent_id=agent.pk, name=agent.name, system=agent.system, model=agent_model_name(agent),
            context_window=agent.context_window, temperature=agent.temperature, warning_share=agent.warning_share,
            evict_share=agent.evict_share, completion_reserve=agent.completion_reserve, max_steps=agent.max_steps,
            memory_warning_sent=agent.memory_warning_sent,
            blocks=[block_view(b) for b in blocks],
            messages=[message_view(m) for m in in_context if m.kind != Message.Kind.SUMMARY],
            summary=message_view(summary) if summary else None,
            recall_count=recall_count,
            archival_count=archival_count,
            memory_edited_at=agent.memory_edited_at,
            tools=[tool_spec(t) for t in tools],
            tool_rules=agent.tool_rules,
            heartbeat_fallback=agent.heartbeat_fallback,
        )

    def append(self, messages: list[MessageView], *, step_id: int | None = None) -> list[MessageView]:
        rows = memory_services.messages_append(agent_id=self.agent.pk, owner_id=self.agent.owner_id,
                                               messages=[_fields(m) for m in messages], run_id=self.run_id, step_id=step_id,
                                               embed=False)
        self.unembedded.extend(rows)
        return [message_view(row) for row in rows]

    def reserve_message_id(self) -> int:
        with connection.cursor() as cursor:
            cursor.execute("SELECT nextval(pg_get_serial_sequence('memory_message', 'id'))")
            return cursor.fetchone()[0]

    def embed_later(self) -> None:
        """Queue one embedding task for all the messages this store appended (a turn's worth)."""
        memory_services.messages_embed_later(messages=self.unembedded)
        self.unembedded = []

    def edit_block(self, label: str, *, append: str | None = None, replace: tuple[str, str] | None = None,
                   step_id: int | None) -> BlockView:
        from agents.services import block_edit  # the services run turns through this store

        block = block_edit(block_id=self.block_ids[label], actor=BlockRevision.Actor.AGENT, step_id=step_id,
                           run_id=self.run_id, append=append, replace=replace)
        return block_view(block)

    def archival_insert(self, text: str, *, step_id: int | None = None) -> int:
        return memory_services.passage_insert(owner_id=self.agent.owner_id, agent_id=self.agent.pk, text=text,
                                              embedding_model=self.agent.embedding_model, step_id=step_id).pk

    def archival_search(self, query: str, page: int, page_size: int) -> SearchPage:
        passages, ranked = memory_selectors.passage_search(scope=PassageScope(agent_id=self.agent.pk), query=query,
                                                           embedding_models=[self.agent.embedding_model], page=page,
                                                           page_size=page_size)
        hits = [SearchHit(p.text, p.created_at, citation=_citation(p)) for p in passages]
        return SearchPage(hits, ranked.total, page, ranked.pages)

    def recall_search(self, query: str, page: int, page_size: int) -> SearchPage:
        messages, ranked = memory_selectors.message_search(scope=MessageScope(agent_id=self.agent.pk), query=query,
                                                           embedding_models=[self.agent.embedding_model], page=page,
                                                           page_size=page_size)
        return SearchPage([SearchHit(m.text, m.created_at, m.role) for m in messages], ranked.total, page, ranked.pages)

    def recall_search_date(self, start, end, page: int, page_size: int) -> SearchPage:
        between = memory_selectors.message_list(scope=MessageScope(agent_id=self.agent.pk, start=start, end=end))
        messages, total = between[(page - 1) * page_size : page * page_size], between.count()
        pages = max(1, -(-total // page_size))
        return SearchPage([SearchHit(m.text, m.created_at, m.role) for m in messages], total, page, pages)

    def save_step(self, record: StepRecord) -> int:
        usage = record.usage or {}
        step = Step.objects.create(
            run_id=self.run_id, agent_id=self.agent.pk, index=record.index, purpose=record.purpose, model=record.model,
            request=record.request, response=record.response, tokens=record.tokens, usage=record.usage,
            prompt_tokens=usage.get("prompt_tokens"), completion_tokens=usage.get("completion_tokens"),
            latency_ms=record.latency_ms, error=record.error, state={**record.state, **self.whereabouts()},
        )
        return step.pk

    def whereabouts(self) -> dict:
        """The store's part of a step's state: the agent's settings as this turn loaded them, and the last
        of its rows so far (nothing of the turn's is written while the model answers)."""
        agent = self.agent
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT (SELECT max(id) FROM memory_message WHERE agent_id = %s), "
                "(SELECT max(id) FROM memory_passage WHERE agent_id = %s), (SELECT max(id) FROM memory_blockrevision), "
                "(SELECT coalesce(array_agg(source_id ORDER BY source_id), '{}') FROM memory_source_agents "
                "WHERE agent_id = %s)", [agent.pk, agent.pk, agent.pk])
            last_message, last_passage, last_revision, sources = cursor.fetchone()
        return {"agent": {"model": agent.model, "tool_protocol": agent.tool_protocol,
                          "embedding_model": agent.embedding_model, "tool_ids": self.tool_ids, "source_ids": sources},
                "last_message_id": last_message, "last_passage_id": last_passage, "last_revision_id": last_revision}

    def evict(self, message_ids: list[int], summary: MessageView) -> MessageView:
        row = memory_services.messages_evict(agent_id=self.agent.pk, owner_id=self.agent.owner_id,
                                             message_ids=message_ids, summary={**_fields(summary), "run_id": self.run_id})
        return message_view(row)

    def cancelled(self) -> bool:
        return self.run_id is not None and Run.objects.filter(
            pk=self.run_id, status=Run.Status.RUNNING, stop_reason=Run.StopReason.CANCELLED).exists()

    def step_rules(self, step_id: int, notes: list[str]) -> None:
        Step.objects.filter(pk=step_id).update(rules=notes)

    def set_memory_warning(self, sent: bool) -> None:
        Agent.objects.filter(pk=self.agent.pk).update(memory_warning_sent=sent)

    def schedule_wakeup(self, *, at, every_seconds, reason, note, step_id) -> Wakeup:
        from agents.schedules import schedule_create

        schedule = schedule_create(agent=self.agent, kind=ScheduledMessage.Kind.HEARTBEAT, text=reason, note=note, at=at,
                                   every_seconds=every_seconds, step_id=step_id)
        return Wakeup(schedule.pk, schedule.next_run_at, schedule.every_seconds)
