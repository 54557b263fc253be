"""A Store kept in lists, so that engine tests need no database.

Search here is plain word matching: the real hybrid search is tested against PostgreSQL.
"""

import dataclasses
import itertools
import math
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

from agents.engine.types import AgentState, BlockView, MessageView, ScheduleRefused, SearchHit, SearchPage, StepRecord, Wakeup
from memory.errors import BlockLimitExceeded, BlockReadOnly, BlockTextNotFound


def _page(hits: list[SearchHit], page: int, size: int) -> SearchPage:
    pages = max(1, math.ceil(len(hits) / size))
    return SearchPage(hits[(page - 1) * size : page * size], len(hits), page, pages)


@dataclass
class InMemoryStore:
    state: AgentState
    messages: list[MessageView] = field(default_factory=list)  # all, as recall memory
    passages: list[str] = field(default_factory=list)
    steps: list[StepRecord] = field(default_factory=list)
    evicted: list[int] = field(default_factory=list)
    block_writes: list[tuple[str, str, int | None]] = field(default_factory=list)
    rule_notes: dict[int, list[str]] = field(default_factory=dict)  # step id -> what the tool rules did
    cancel_requested: bool = False
    wakeups: list[dict] = field(default_factory=list)  # what schedule_wakeup was asked
    max_wakeups: int = 3
    now: datetime = field(default_factory=lambda: datetime(2026, 11, 21, 12, 0, tzinfo=timezone.utc))

    def __post_init__(self):
        self.ids = itertools.count(1)

    def load(self) -> AgentState:
        return replace(self.state, blocks=[replace(b) for b in self.state.blocks], messages=list(self.state.messages),
                       recall_count=len(self.messages), archival_count=len(self.passages))

    def append(self, messages, *, step_id=None):
        saved = [replace(m, id=m.id or next(self.ids), created_at=m.created_at or self.now, step_id=step_id) for m in messages]
        self.messages.extend(saved)
        self.state.messages.extend(saved)
        return saved

    def reserve_message_id(self):
        return next(self.ids)

    def edit_block(self, label, *, append=None, replace=None, step_id):
        block = next(b for b in self.state.blocks if b.label == label)
        if block.read_only:
            raise BlockReadOnly(f"The block {label!r} is read-only; it cannot be edited.")
        if append is not None:
            value = f"{block.value}\n{append}" if block.value else append
        elif not replace[0]:
            raise BlockTextNotFound("old_content is empty; give the exact text to replace (use core_memory_append to add).")
        elif replace[0] not in block.value:
            raise BlockTextNotFound(f"old_content {replace[0]!r:.200} was not found in the block {label!r}; it must match exactly.")
        else:
            value = block.value.replace(*replace)
        if len(value) > block.limit:
            raise BlockLimitExceeded(label=label, chars=len(value), limit=block.limit, used=len(block.value))
        block.value = value
        self.block_writes.append((label, value, step_id))
        return dataclasses.replace(block)

    def archival_insert(self, text, *, step_id=None):
        self.passages.append(text)
        return len(self.passages)

    def archival_search(self, query, page, page_size):
        words = query.lower().split()
        return _page([SearchHit(p) for p in self.passages if any(w in p.lower() for w in words)], page, page_size)

    def recall_search(self, query, page, page_size):
        words = query.lower().split()
        found = [SearchHit(m.text, m.created_at, m.role) for m in self.messages
                 if m.kind in ("user_message", "assistant") and any(w in m.text.lower() for w in words)]
        return _page(found, page, page_size)

    def recall_search_date(self, start, end, page, page_size):
        found = [SearchHit(m.text, m.created_at, m.role) for m in self.messages
                 if m.kind in ("user_message", "assistant") and start <= m.created_at < end]
        return _page(found, page, page_size)

    def save_step(self, record: StepRecord) -> int:
        self.steps.append(record)
        return len(self.steps)

    def evict(self, message_ids, summary):
        self.evicted.extend(message_ids)
        [saved] = self.append([summary])
        self.state.messages = [m for m in self.state.messages if m.id not in message_ids and m.id != saved.id]
        self.state.summary = saved
        return saved

    def cancelled(self):
        return self.cancel_requested

    def set_memory_warning(self, sent):
        self.state.memory_warning_sent = sent

    def step_rules(self, step_id, notes):
        self.rule_notes[step_id] = list(notes)

    def schedule_wakeup(self, *, at, every_seconds, reason, note, step_id):
        """Kept in `wakeups`; refused, as the real store refuses them, at a time past and over `max_wakeups`."""
        if at is not None and at <= self.now:
            raise ScheduleRefused(f"{at.isoformat()} is past")
        if len(self.wakeups) >= self.max_wakeups:
            raise ScheduleRefused(f"{self.state.name} holds {len(self.wakeups)} scheduled wake-ups already")
        self.wakeups.append({"at": at, "every_seconds": every_seconds, "reason": reason, "note": note, "step_id": step_id})
        return Wakeup(len(self.wakeups), at or self.now + timedelta(seconds=every_seconds), every_seconds)


def make_state(**overrides) -> AgentState:
    fields = dict(
        agent_id=1, name="Sam", system="You are Sam, a MemGPT agent.", model="gpt-4o-mini", context_window=8192,
        temperature=0.7, warning_share=0.7, evict_share=0.5, completion_reserve=1024, max_steps=10,
        memory_warning_sent=False,
        blocks=[BlockView("persona", "I am Sam, curious and kind.", 2000, "Who I am"),
                BlockView("human", "", 2000, "What I know about the human")],
        messages=[],
    )
    fields.update(overrides)
    return AgentState(**fields)
