"""The values the engine works with, and the two protocols it is given: storage and the LLM."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Protocol

Publish = Callable[[dict[str, Any]], None]  # takes an agents.engine.events.Event


@dataclass
class BlockView:
    label: str
    value: str
    limit: int
    description: str = ""
    read_only: bool = False
    id: int | None = None


@dataclass
class MessageView:
    """One message of recall memory, as the engine sees it."""

    id: int | None
    role: str  # system, user, assistant, tool
    kind: str  # see memory.models.Message.Kind
    content: str = ""
    text: str = ""
    tool_calls: list[dict] | None = None
    tool_call_id: str = ""
    name: str = ""
    created_at: datetime | None = None
    run_id: int | None = None
    step_id: int | None = None

    def to_openai(self) -> dict[str, Any]:
        message: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            message["tool_calls"] = self.tool_calls
            if not self.content:
                message["content"] = None
        if self.role == "tool":
            message["tool_call_id"] = self.tool_call_id
        if self.name and self.role != "tool":
            message["name"] = self.name
        return message


@dataclass(frozen=True)
class ToolSpec:
    """One tool of an agent's tool set: a built-in one, run by the engine, or a custom one, run by the
    ToolRunner. `schema` is what the model is sent."""

    name: str
    schema: dict[str, Any]
    kind: str = "builtin"  # or "custom"
    source: str = ""
    requirements: tuple[str, ...] = ()
    return_char_limit: int = 6000
    takes_agent_state: bool = False


@dataclass
class ToolRun:
    """What a custom tool call gave: the function's return value, or the error and its traceback."""

    ok: bool
    value: Any = None
    stdout: str = ""
    error: str = ""
    traceback: str = ""
    duration: float = 0.0


@dataclass(frozen=True)
class Delivery:
    """A message handed to another agent: the turn it queued there."""

    agent_id: int
    name: str
    run_id: int


class MessageRefused(Exception):
    """A message to other agents that cannot be sent; the text says why, for the model."""


class Messenger(Protocol):
    """How an agent reaches the other agents of its owner (agents/messaging.py)."""

    def tagged(self, match_all: list[str], match_some: list[str]) -> list[str]:
        """The ids of the other agents with every tag of `match_all` and one of `match_some` (if any)."""

    def group_members(self) -> list[str]:
        """The ids of the other agents of the supervisor group this turn's agent supervises, if it is one's turn."""

    def send(self, recipients: list[str], text: str, *, wait: bool, step_id: int | None, call_id: str) -> list[Delivery]:
        """Queue a turn on each recipient (an agent id, or a name that one agent has) with the message;
        with `wait`, their replies become the result of the call `call_id`, and the turn suspends
        until they come. Raises MessageRefused (unknown agent, a cycle, a limit)."""


@dataclass
class Suspension:
    """A turn that waits for other agents' replies, as the loop resumes it: where it was and what it
    had decided about the step whose calls wait."""

    step_id: int
    calls: int  # LLM calls made so far: the next step's index
    steps: int
    waiting: list[dict]  # the calls without a result yet: {"id", "name", "heartbeat"}
    heartbeat: bool = False  # what the step's other calls asked
    failed: bool = False
    ends: bool = False
    notes: list[str] = field(default_factory=list)
    called: list[list[str]] = field(default_factory=list)  # the tool rules' record of the turn


class ToolRunner(Protocol):
    def run(self, tool: ToolSpec, arguments: dict[str, Any], state: "AgentState") -> ToolRun:
        """Run a custom tool with the model's (validated) arguments; never raises."""


@dataclass
class AgentState:
    agent_id: int
    name: str
    system: str
    model: str
    context_window: int
    temperature: float
    warning_share: float
    evict_share: float
    completion_reserve: int
    max_steps: int
    memory_warning_sent: bool
    blocks: list[BlockView]
    messages: list[MessageView]  # in context, oldest first, without the summary
    summary: MessageView | None = None
    recall_count: int = 0  # messages in recall memory (all ever stored)
    archival_count: int = 0
    memory_edited_at: datetime | None = None
    tools: list[ToolSpec] | None = None  # the agent's tool set; None: every built-in tool
    tool_rules: list[dict] = field(default_factory=list)  # Letta's, as agents/engine/rules.py reads them
    heartbeat_fallback: bool = False  # a forgotten request_heartbeat gets one (agents/engine/tools.py)

    def block(self, label: str) -> BlockView | None:
        return next((b for b in self.blocks if b.label == label), None)


@dataclass
class SearchHit:
    text: str
    created_at: datetime | None = None
    role: str = ""
    # where a passage came from: {"document": "report.pdf", "pages": "3-4"}
    citation: dict[str, Any] = field(default_factory=dict)


@dataclass
class SearchPage:
    hits: list[SearchHit]
    total: int
    page: int
    pages: int


@dataclass
class StepRecord:
    index: int
    model: str
    request: dict[str, Any]
    response: dict[str, Any] | None
    tokens: dict[str, Any]
    usage: dict[str, Any] | None
    latency_ms: float
    error: str = ""
    purpose: str = "agent"  # or "summary"
    state: dict[str, Any] = field(default_factory=dict)  # the agent just before the call (agents/engine/snapshot.py)


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str  # raw, as the model sent it


@dataclass
class Completion:
    content: str
    tool_calls: list[ToolCall]
    usage: dict[str, Any] | None
    finish_reason: str | None
    response: dict[str, Any]  # the response as assembled from the stream, for the trace


@dataclass(frozen=True)
class Delta:
    """A piece of an answer as it streams in: of its content, or of its tool call number `call`
    (`call_id` is the id the finished call will have; `name` comes with the call's first piece)."""

    content: str = ""
    call: int | None = None
    call_id: str = ""
    name: str = ""
    arguments: str = ""


class LLM(Protocol):
    def complete(self, request: dict[str, Any], on_delta: Callable[[Delta], None]) -> Completion:
        """Send one chat completion request; call on_delta with each piece of the answer as it streams.

        Raises memory.openai_api.ProviderError (retryable, context_overflow)."""


class Store(Protocol):
    """What the engine needs from storage. Every write commits on its own."""

    def load(self) -> AgentState: ...

    def append(self, messages: list[MessageView], *, step_id: int | None = None) -> list[MessageView]: ...

    def reserve_message_id(self) -> int | None:
        """An id for a message not yet written (an answer streamed before it is stored): a message
        appended with it keeps it, and it sorts after every message appended before."""

    def edit_block(self, label: str, *, append: str | None = None, replace: tuple[str, str] | None = None,
                   step_id: int | None) -> BlockView:
        """Append to or replace text in a core memory block as it is now; the block after the edit.
        Raises memory.errors.BlockEditRefused (read-only, over the limit, text not found)."""

    def archival_insert(self, text: str, *, step_id: int | None = None) -> int: ...

    def archival_search(self, query: str, page: int, page_size: int) -> SearchPage: ...

    def recall_search(self, query: str, page: int, page_size: int) -> SearchPage: ...

    def recall_search_date(self, start: datetime, end: datetime, page: int, page_size: int) -> SearchPage: ...

    def save_step(self, record: StepRecord) -> int: ...

    def evict(self, message_ids: list[int], summary: MessageView) -> MessageView: ...

    def set_memory_warning(self, sent: bool) -> None: ...

    def step_rules(self, step_id: int, notes: list[str]) -> None:
        """Keep with the step what the tool rules did at it, for its trace."""

    def cancelled(self) -> bool:
        """Whether someone asked the turn to stop (it stops before its next LLM call)."""

    def schedule_wakeup(self, *, at: datetime | None, every_seconds: int | None, reason: str, note: str,
                        step_id: int | None) -> "Wakeup":
        """Schedule a heartbeat of this agent at `at`, or every `every_seconds` (first at `at` if
        given). Raises ScheduleRefused (a time past, an interval too short, too many wake-ups)."""


@dataclass(frozen=True)
class Wakeup:
    """A wake-up the agent scheduled (agents/schedules.py)."""

    id: int
    next_at: datetime
    every_seconds: int | None = None


class ScheduleRefused(ValueError):
    """A wake-up that cannot be scheduled; the text says why, for the model or the person who asked."""
