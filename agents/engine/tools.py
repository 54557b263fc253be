"""The agent's tools: JSON schemas as the model sees them, validated arguments, and dispatch.

A bad call never raises: it becomes a failed result that tells the model what went wrong.
"""

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Callable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agents.engine.types import AgentState, BlockView, SearchPage, Store

HEARTBEAT_PROPERTY = {
    "type": "boolean",
    "description": "Request an immediate heartbeat after the call: set to true to act again on its result.",
}


class Arguments(BaseModel):
    model_config = ConfigDict(extra="ignore")


class Heartbeat(Arguments):
    request_heartbeat: bool = False


class SendMessage(Arguments):
    message: str


class CoreMemoryAppend(Heartbeat):
    label: str
    content: str


class CoreMemoryReplace(Heartbeat):
    label: str
    old_content: str
    new_content: str


class ArchivalMemoryInsert(Heartbeat):
    content: str = Field(min_length=1)


class Search(Heartbeat):
    query: str = Field(min_length=1)
    page: int = Field(default=1, ge=1)


class SearchDate(Heartbeat):
    start_date: date
    end_date: date
    page: int = Field(default=1, ge=1)


@dataclass
class ToolOutcome:
    status: str  # "OK" or "Failed"
    message: Any
    heartbeat: bool = False
    sends_message: str | None = None  # send_message's text
    block: BlockView | None = None  # a core memory block the call changed

    @property
    def failed(self) -> bool:
        return self.status == "Failed"


def _failed(message: str) -> ToolOutcome:
    return ToolOutcome(status="Failed", message=message, heartbeat=True)


def _schema(name: str, description: str, properties: dict, required: list[str], heartbeat: bool = True) -> dict:
    props = dict(properties)
    if heartbeat:
        props["request_heartbeat"] = HEARTBEAT_PROPERTY
        required = [*required, "request_heartbeat"]
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": props, "required": required},
        },
    }


PAGE = {"type": "integer", "description": "Which page of results to show, from 1 (the default)."}

TOOL_SCHEMAS = [
    _schema(
        "send_message",
        "Send a message to the user. The only way the user hears you.",
        {"message": {"type": "string", "description": "The message, in full. Markdown is allowed."}},
        ["message"],
        heartbeat=False,
    ),
    _schema(
        "core_memory_append",
        "Append text to a block of core memory (always in your context).",
        {
            "label": {"type": "string", "description": "The block's label, e.g. 'human' or 'persona'."},
            "content": {"type": "string", "description": "The text to add, on a new line."},
        },
        ["label", "content"],
    ),
    _schema(
        "core_memory_replace",
        "Replace text in a block of core memory. An empty new_content deletes old_content.",
        {
            "label": {"type": "string", "description": "The block's label."},
            "old_content": {"type": "string", "description": "Text to replace; must match the block exactly."},
            "new_content": {"type": "string", "description": "The text to put in its place."},
        },
        ["label", "old_content", "new_content"],
    ),
    _schema(
        "archival_memory_insert",
        "Save a passage to archival memory, your unlimited long-term store. Write it so that it can be found "
        "again by words and by meaning.",
        {"content": {"type": "string", "description": "The passage to store."}},
        ["content"],
    ),
    _schema(
        "archival_memory_search",
        "Search archival memory by words and by meaning (hybrid search). Results come in pages.",
        {"query": {"type": "string", "description": "What to look for."}, "page": PAGE},
        ["query"],
    ),
    _schema(
        "conversation_search",
        "Search the whole conversation history (recall memory) by words and by meaning. Results come in pages.",
        {"query": {"type": "string", "description": "What to look for."}, "page": PAGE},
        ["query"],
    ),
    _schema(
        "conversation_search_date",
        "List the messages of the conversation history between two dates (inclusive). Results come in pages.",
        {
            "start_date": {"type": "string", "description": "The first day, as YYYY-MM-DD."},
            "end_date": {"type": "string", "description": "The last day, as YYYY-MM-DD."},
            "page": PAGE,
        },
        ["start_date", "end_date"],
    ),
]
TOOL_NAMES = [schema["function"]["name"] for schema in TOOL_SCHEMAS]


@dataclass
class ToolContext:
    state: AgentState
    store: Store
    step_id: int | None
    page_size: int
    now: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))


def _explain(error: ValidationError, tool: str) -> str:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "arguments"
        if item["type"] == "missing":
            problems.append(f"missing required argument '{where}'")
        else:
            problems.append(f"argument '{where}': {item['msg']} (got {item.get('input')!r:.80})")
    return f"Invalid arguments for {tool}: " + "; ".join(problems)


def _block_for_edit(ctx: ToolContext, label: str) -> BlockView | ToolOutcome:
    block = ctx.state.block(label)
    if block is None:
        labels = ", ".join(repr(b.label) for b in ctx.state.blocks) or "none"
        return _failed(f"No core memory block labelled {label!r}. Blocks: {labels}.")
    if block.read_only:
        return _failed(f"The block {label!r} is read-only; it cannot be edited.")
    return block


def _write_block(ctx: ToolContext, block: BlockView, value: str, heartbeat: bool) -> ToolOutcome:
    if len(value) > block.limit:
        return _failed(
            f"Edit refused: the block {block.label!r} would have {len(value)} characters, over its limit of "
            f"{block.limit} ({len(block.value)} used now). Shorten the new text, or move detail to archival memory."
        )
    saved = ctx.store.set_block_value(block.label, value, step_id=ctx.step_id)
    block.value = saved.value
    ctx.state.memory_edited_at = ctx.now()
    return ToolOutcome(status="OK", message=None, heartbeat=heartbeat, block=block)


def core_memory_append(ctx: ToolContext, args: CoreMemoryAppend) -> ToolOutcome:
    block = _block_for_edit(ctx, args.label)
    if isinstance(block, ToolOutcome):
        return block
    value = f"{block.value}\n{args.content}" if block.value else args.content
    return _write_block(ctx, block, value, args.request_heartbeat)


def core_memory_replace(ctx: ToolContext, args: CoreMemoryReplace) -> ToolOutcome:
    block = _block_for_edit(ctx, args.label)
    if isinstance(block, ToolOutcome):
        return block
    if not args.old_content:
        return _failed("old_content is empty; give the exact text to replace (use core_memory_append to add).")
    if args.old_content not in block.value:
        return _failed(f"old_content {args.old_content!r:.200} was not found in the block {args.label!r}; it must match exactly.")
    return _write_block(ctx, block, block.value.replace(args.old_content, args.new_content), args.request_heartbeat)


def archival_memory_insert(ctx: ToolContext, args: ArchivalMemoryInsert) -> ToolOutcome:
    ctx.store.archival_insert(args.content)
    ctx.state.archival_count += 1
    return ToolOutcome(status="OK", message=None, heartbeat=args.request_heartbeat)


def _page_message(result: SearchPage, hits: list[dict]) -> str:
    if result.total == 0:
        return "No results found."
    if not hits:
        return f"No results on page {result.page}: there are {result.pages} pages of results."
    header = f"Showing {len(hits)} of {result.total} results (page {result.page} of {result.pages}):"
    return header + "\n" + json.dumps(hits, ensure_ascii=False, indent=None)


def _stamp(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if moment else ""


def archival_memory_search(ctx: ToolContext, args: Search) -> ToolOutcome:
    result = ctx.store.archival_search(args.query, args.page, ctx.page_size)
    hits = [{"timestamp": _stamp(h.created_at), "content": h.text, **h.citation} for h in result.hits]
    return ToolOutcome(status="OK", message=_page_message(result, hits), heartbeat=args.request_heartbeat)


def _message_hits(result: SearchPage) -> list[dict]:
    return [{"timestamp": _stamp(h.created_at), "role": h.role, "message": h.text} for h in result.hits]


def conversation_search(ctx: ToolContext, args: Search) -> ToolOutcome:
    result = ctx.store.recall_search(args.query, args.page, ctx.page_size)
    return ToolOutcome(status="OK", message=_page_message(result, _message_hits(result)), heartbeat=args.request_heartbeat)


def conversation_search_date(ctx: ToolContext, args: SearchDate) -> ToolOutcome:
    if args.end_date < args.start_date:
        return _failed(f"end_date {args.end_date} is before start_date {args.start_date}.")
    start = datetime.combine(args.start_date, time.min, tzinfo=timezone.utc)
    end = datetime.combine(args.end_date + timedelta(days=1), time.min, tzinfo=timezone.utc)
    result = ctx.store.recall_search_date(start, end, args.page, ctx.page_size)
    return ToolOutcome(status="OK", message=_page_message(result, _message_hits(result)), heartbeat=args.request_heartbeat)


def send_message(ctx: ToolContext, args: SendMessage) -> ToolOutcome:
    return ToolOutcome(status="OK", message=None, sends_message=args.message)


TOOLS: dict[str, tuple[type[Arguments], Callable[[ToolContext, Any], ToolOutcome]]] = {
    "send_message": (SendMessage, send_message),
    "core_memory_append": (CoreMemoryAppend, core_memory_append),
    "core_memory_replace": (CoreMemoryReplace, core_memory_replace),
    "archival_memory_insert": (ArchivalMemoryInsert, archival_memory_insert),
    "archival_memory_search": (Search, archival_memory_search),
    "conversation_search": (Search, conversation_search),
    "conversation_search_date": (SearchDate, conversation_search_date),
}


def argument_of(raw: str, name: str) -> str:
    """One string argument of a call's raw JSON arguments, or "" if it is not there."""
    try:
        value = json.loads(raw).get(name)
    except (json.JSONDecodeError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


def execute(ctx: ToolContext, name: str, raw_arguments: str) -> ToolOutcome:
    """Run one tool call as the model sent it."""
    if name not in TOOLS:
        return _failed(f"Unknown tool {name!r}. Available tools: {', '.join(TOOL_NAMES)}.")
    try:
        arguments = json.loads(raw_arguments) if raw_arguments.strip() else {}
    except json.JSONDecodeError as error:
        return _failed(f"The arguments of {name} are not valid JSON ({error.msg} at character {error.pos}). "
                       "Send them as one JSON object.")
    if not isinstance(arguments, dict):
        return _failed(f"The arguments of {name} must be a JSON object, not {type(arguments).__name__}.")
    model, function = TOOLS[name]
    try:
        parsed = model.model_validate(arguments)
    except ValidationError as error:
        return _failed(_explain(error, name))
    return function(ctx, parsed)
