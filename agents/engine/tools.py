"""The agent's tools: the built-in ones (JSON schemas as the model sees them, validated arguments),
and dispatch of every call, custom tools to the ToolRunner.

A bad call never raises: it becomes a failed result that tells the model what went wrong.
"""

import json
import logging
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Callable

import jsonschema
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from agents.engine.types import (AgentState, MessageRefused, Messenger, ScheduleRefused, SearchPage, Store, ToolRunner,
                                 ToolSpec)
from memory.errors import BlockEditRefused, BlockLimitExceeded
from memory.text import clean, clean_json

logger = logging.getLogger(__name__)
MAX_ERROR_CHARS = 500  # of an exception's text, in the failed result the model reads
MAX_PASSAGE_CHARS = 20_000  # one archival passage: a page of search results must fit a window
MAX_QUERY_CHARS = 2_000
MAX_PAGE = 10_000
DURATION_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}

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
    content: str = Field(min_length=1, max_length=MAX_PASSAGE_CHARS)


class Search(Heartbeat):
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    page: int = Field(default=1, ge=1, le=MAX_PAGE)


class SendToAgent(Heartbeat):
    message: str = Field(min_length=1)
    other_agent_id: str = Field(min_length=1, max_length=200)


class SendToGroup(Heartbeat):
    message: str = Field(min_length=1)


class SendToTagged(Heartbeat):
    message: str = Field(min_length=1)
    match_all: list[str] = Field(default_factory=list, max_length=20)
    match_some: list[str] = Field(default_factory=list, max_length=20)


class ScheduleWakeup(Heartbeat):
    at: str | None = Field(default=None, max_length=100)
    every: int | str | None = None
    reason: str = Field(min_length=1, max_length=2_000)
    message: str = Field(default="", max_length=10_000)


class SearchDate(Heartbeat):
    start_date: date
    end_date: date
    page: int = Field(default=1, ge=1, le=MAX_PAGE)


@dataclass
class ToolOutcome:
    status: str  # "OK" or "Failed"
    message: Any
    heartbeat: bool = False
    waits_for: list[int] | None = None  # the runs whose replies will be the result: the turn waits for them

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

BASE_SCHEMAS = [
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
AGENT_ID = {"type": "string", "description": "The other agent's id, as 'agent-12', or its exact name."}
MESSAGE = {"type": "string", "description": "The message, in full. Who sends it is added: no need to introduce yourself."}

# opt-in per agent: messages to the other agents of the same person (agents/messaging.py)
MULTI_AGENT_SCHEMAS = [
    _schema(
        "send_message_to_agent_and_wait_for_reply",
        "Send a message to another agent and wait for its reply, which is this call's result. Use it to ask "
        "another agent for something you need before you go on.",
        {"message": MESSAGE, "other_agent_id": AGENT_ID},
        ["message", "other_agent_id"],
    ),
    _schema(
        "send_message_to_agent_async",
        "Send a message to another agent without waiting for it. If it answers, its answer comes to you later, "
        "as a message of its own.",
        {"message": MESSAGE, "other_agent_id": AGENT_ID},
        ["message", "other_agent_id"],
    ),
    _schema(
        "send_message_to_agents_matching_tags",
        "Send a message to every other agent that has all the tags of match_all and at least one of match_some "
        "(when given), and wait for all their replies: the result lists them.",
        {
            "message": MESSAGE,
            "match_all": {"type": "array", "items": {"type": "string"}, "description": "Tags an agent must all have."},
            "match_some": {"type": "array", "items": {"type": "string"},
                           "description": "Tags of which an agent must have one; empty: no such condition."},
        },
        ["message", "match_all", "match_some"],
    ),
]
# a supervisor group's supervisor's (agents/groups.py)
GROUP_SCHEMAS = [
    _schema(
        "send_message_to_all_agents_in_group",
        "Send a message to every other agent of your group and wait for all their replies: the result lists them.",
        {"message": MESSAGE},
        ["message"],
    ),
]
# opt-in per agent: wake-ups it schedules itself (agents/schedules.py)
SCHEDULE_SCHEMAS = [
    _schema(
        "schedule_wakeup",
        "Schedule a wake-up: a heartbeat that starts a turn of yours later, with no message from anyone. Give `at` "
        "for once, `every` for again and again (from `at` if given, else from now), and the reason you will read "
        "when you wake. Use it to follow up, check back, or remind the user of something.",
        {
            "at": {"type": "string", "description": "When, as an ISO 8601 time with its zone: '2026-01-02T09:00:00Z'."},
            "every": {"type": "string", "description": "How often: seconds ('3600') or a duration ('90s', '5m', "
                                                       "'1h30m', '1d')."},
            "reason": {"type": "string", "description": "Why you want to wake up: you read it when you do."},
            "message": {"type": "string", "description": "Optional: a note to yourself for when you wake."},
        },
        ["reason"],
    ),
]
TOOL_SCHEMAS = BASE_SCHEMAS + MULTI_AGENT_SCHEMAS + GROUP_SCHEMAS + SCHEDULE_SCHEMAS  # every built-in tool
TOOL_NAMES = [schema["function"]["name"] for schema in TOOL_SCHEMAS]
BASE_TOOL_NAMES = [schema["function"]["name"] for schema in BASE_SCHEMAS]
MULTI_AGENT_TOOL_NAMES = [schema["function"]["name"] for schema in MULTI_AGENT_SCHEMAS]
BUILTIN_TOOLS = [ToolSpec(name=schema["function"]["name"], schema=schema) for schema in BASE_SCHEMAS]  # the default set


def tools_of(state: AgentState) -> list[ToolSpec]:
    """The agent's tool set, as the model is offered it."""
    return BUILTIN_TOOLS if state.tools is None else state.tools


@dataclass
class ToolContext:
    state: AgentState
    store: Store
    step_id: int | None
    page_size: int
    now: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))
    runner: ToolRunner | None = None  # runs custom tools (agents/tools/sandbox.py behind agents.storage)
    messenger: Messenger | None = None  # reaches the other agents (agents/messaging.py)
    call_id: str = ""  # the call being run


def _explain(error: ValidationError, tool: str) -> str:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "arguments"
        if item["type"] == "missing":
            problems.append(f"missing required argument '{where}'")
        else:
            problems.append(f"argument '{where}': {item['msg']} (got {item.get('input')!r:.80})")
    return f"Invalid arguments for {tool}: " + "; ".join(problems)


def _edit_block(ctx: ToolContext, label: str, heartbeat: bool, **edit) -> ToolOutcome:
    """An edit of core memory, made on the block as it is now (a person may have changed it meanwhile)."""
    if ctx.state.block(label) is None:
        labels = ", ".join(repr(b.label) for b in ctx.state.blocks) or "none"
        return _failed(f"No core memory block labelled {label!r}. Blocks: {labels}.")
    try:
        saved = ctx.store.edit_block(label, step_id=ctx.step_id, **edit)
    except BlockLimitExceeded as refused:
        return _failed(
            f"Edit refused: the block {label!r} would have {refused.chars} characters, over its limit of "
            f"{refused.limit} ({refused.used} used now). Shorten the new text, or move detail to archival memory."
        )
    except BlockEditRefused as refused:
        return _failed(str(refused))
    ctx.state.blocks = [saved if b.label == label else b for b in ctx.state.blocks]
    ctx.state.memory_edited_at = ctx.now()
    return ToolOutcome(status="OK", message=None, heartbeat=heartbeat)


def core_memory_append(ctx: ToolContext, args: CoreMemoryAppend) -> ToolOutcome:
    return _edit_block(ctx, args.label, args.request_heartbeat, append=args.content)


def core_memory_replace(ctx: ToolContext, args: CoreMemoryReplace) -> ToolOutcome:
    return _edit_block(ctx, args.label, args.request_heartbeat, replace=(args.old_content, args.new_content))


def archival_memory_insert(ctx: ToolContext, args: ArchivalMemoryInsert) -> ToolOutcome:
    ctx.store.archival_insert(args.content, step_id=ctx.step_id)
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
    return ToolOutcome(status="OK", message=None)  # what it says is in the call itself


def _send(ctx: ToolContext, recipients: list[str], args: SendToAgent | SendToTagged, *, wait: bool) -> ToolOutcome:
    if ctx.messenger is None:
        return _failed("Messages to other agents cannot be sent here.")
    try:
        sent = ctx.messenger.send(recipients, args.message, wait=wait, step_id=ctx.step_id, call_id=ctx.call_id)
    except MessageRefused as refused:
        return _failed(str(refused))
    if wait:
        return ToolOutcome(status="OK", message=None, heartbeat=args.request_heartbeat, waits_for=[d.run_id for d in sent])
    names = ", ".join(f"{d.name} (agent-{d.agent_id})" for d in sent)
    return ToolOutcome(status="OK", message=f"Message sent to {names}. Its answer, if any, comes to you as a message.",
                       heartbeat=args.request_heartbeat)


def send_message_to_agent_and_wait_for_reply(ctx: ToolContext, args: SendToAgent) -> ToolOutcome:
    return _send(ctx, [args.other_agent_id], args, wait=True)


def send_message_to_agent_async(ctx: ToolContext, args: SendToAgent) -> ToolOutcome:
    return _send(ctx, [args.other_agent_id], args, wait=False)


def send_message_to_agents_matching_tags(ctx: ToolContext, args: SendToTagged) -> ToolOutcome:
    if not args.match_all and not args.match_some:
        return _failed("Name at least one tag, in match_all or match_some.")
    if ctx.messenger is None:
        return _failed("Messages to other agents cannot be sent here.")
    recipients = ctx.messenger.tagged(args.match_all, args.match_some)
    if not recipients:
        wanted = f"all of {args.match_all}" if args.match_all else ""
        wanted += (" and " if wanted and args.match_some else "") + (f"one of {args.match_some}" if args.match_some else "")
        return ToolOutcome(status="OK", message=f"No other agent has {wanted}: nobody was sent the message.",
                           heartbeat=args.request_heartbeat)
    return _send(ctx, recipients, args, wait=True)


def send_message_to_all_agents_in_group(ctx: ToolContext, args: SendToGroup) -> ToolOutcome:
    if ctx.messenger is None:
        return _failed("Messages to other agents cannot be sent here.")
    recipients = ctx.messenger.group_members()
    if not recipients:
        return _failed("You are not the supervisor of a group with other agents in it: nobody was sent the message.")
    return _send(ctx, recipients, args, wait=True)


def _moment(text: str) -> datetime:
    """An ISO 8601 time; one without a zone is taken as UTC."""
    moment = datetime.fromisoformat(text.strip())
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def interval_seconds(value: int | str) -> int:
    """Seconds from 3600, "3600", "90s", "5m", "1h30m", "1d" or "1w"; ValueError for anything else."""
    text = str(value).strip().lower().replace(" ", "")
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise ValueError(f"{str(value)[:40]!r} is not an interval: give whole seconds or a duration such as '5m'")
    if text.isdigit():
        seconds = int(text)
    else:
        parts = re.findall(r"(\d+)([smhdw])", text)
        if not parts or "".join(n + u for n, u in parts) != text:
            raise ValueError(f"{text[:40]!r} is not an interval: give seconds (3600) or a duration such as '90s', "
                             "'5m', '1h30m', '1d'")
        seconds = sum(int(n) * DURATION_UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError("an interval must be more than 0 seconds")
    return seconds


def schedule_wakeup(ctx: ToolContext, args: ScheduleWakeup) -> ToolOutcome:
    if not args.at and args.every in (None, ""):
        return _failed("Say when: 'at' (an ISO 8601 time) for once, or 'every' (seconds or a duration such as '5m').")
    try:
        at = _moment(args.at) if args.at else None
    except ValueError:
        return _failed(f"'at' must be an ISO 8601 time such as '2026-01-02T09:00:00Z'; got {args.at[:60]!r}.")
    try:
        every = interval_seconds(args.every) if args.every not in (None, "") else None
        wakeup = ctx.store.schedule_wakeup(at=at, every_seconds=every, reason=args.reason, note=args.message,
                                           step_id=ctx.step_id)
    except ScheduleRefused as refused:
        return _failed(f"Not scheduled: {refused}.")
    except ValueError as error:
        return _failed(f"Invalid 'every': {error}.")
    again = f", then every {wakeup.every_seconds} seconds" if wakeup.every_seconds else ""
    return ToolOutcome(status="OK", message=f"Wake-up scheduled (schedule-{wakeup.id}): first at "
                                            f"{_stamp(wakeup.next_at)}{again}.", heartbeat=args.request_heartbeat)


TOOLS: dict[str, tuple[type[Arguments], Callable[[ToolContext, Any], ToolOutcome]]] = {
    "send_message": (SendMessage, send_message),
    "core_memory_append": (CoreMemoryAppend, core_memory_append),
    "core_memory_replace": (CoreMemoryReplace, core_memory_replace),
    "archival_memory_insert": (ArchivalMemoryInsert, archival_memory_insert),
    "archival_memory_search": (Search, archival_memory_search),
    "conversation_search": (Search, conversation_search),
    "conversation_search_date": (SearchDate, conversation_search_date),
    "send_message_to_agent_and_wait_for_reply": (SendToAgent, send_message_to_agent_and_wait_for_reply),
    "send_message_to_agent_async": (SendToAgent, send_message_to_agent_async),
    "send_message_to_agents_matching_tags": (SendToTagged, send_message_to_agents_matching_tags),
    "send_message_to_all_agents_in_group": (SendToGroup, send_message_to_all_agents_in_group),
    "schedule_wakeup": (ScheduleWakeup, schedule_wakeup),
}


def argument_of(raw: str, name: str) -> str | None:
    """One string argument of a call's raw JSON arguments, or None if it is not there (or not a string)."""
    try:
        value = json.loads(raw).get(name)
    except (ValueError, RecursionError, AttributeError, TypeError):  # not JSON, nested too deep, not an object
        return None
    return clean(value) if isinstance(value, str) else None


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f" [… {len(text) - limit} more characters cut]"


def _problem(error: jsonschema.ValidationError) -> str:
    where = f"argument '{'.'.join(map(str, error.path))}': " if error.path else ""
    return f"{where}{error.message:.200}"


def _run_custom(ctx: ToolContext, tool: ToolSpec, arguments: dict) -> ToolOutcome:
    """A person's function, in the sandbox: its arguments checked against its schema first."""
    heartbeat = arguments.pop("request_heartbeat", False) is True
    parameters = tool.schema["function"]["parameters"]
    properties = {k: v for k, v in parameters.get("properties", {}).items() if k != "request_heartbeat"}
    arguments = {k: v for k, v in arguments.items() if k in properties}  # what the function cannot take
    required = [k for k in parameters.get("required", []) if k in properties]
    problems = sorted(jsonschema.Draft202012Validator({**parameters, "properties": properties, "required": required})
                      .iter_errors(arguments), key=lambda e: list(e.path))
    if problems:
        return _failed(f"Invalid arguments for {tool.name}: " + "; ".join(map(_problem, problems[:5])))
    if ctx.runner is None:
        return _failed(f"{tool.name} is a custom tool, and custom tools cannot run here.")
    run = ctx.runner.run(tool, arguments, ctx.state)
    if not run.ok:
        detail = f"\n{run.traceback}" if run.traceback else ""
        return _failed(_cut(f"{tool.name} failed: {run.error}{detail}", max(tool.return_char_limit, MAX_ERROR_CHARS)))
    value = run.value if isinstance(run.value, str) else json.dumps(run.value, ensure_ascii=False)
    return ToolOutcome(status="OK", message=_cut(value, tool.return_char_limit), heartbeat=heartbeat)


HEARTBEAT_FALLBACK_NOTE = ("You did not set request_heartbeat, so a heartbeat was given anyway: set it to true to act "
                           "again after a call, or to false to stop there.")


def _ends_with_send_message(ctx: ToolContext) -> bool:
    """Whether the answer this call is part of also sends a message: then the call is not the chain's last."""
    for message in reversed(ctx.state.messages):
        if message.role == "assistant" and message.tool_calls and any(c["id"] == ctx.call_id for c in message.tool_calls):
            return any(c["function"]["name"] == "send_message" for c in message.tool_calls)
    return False


def heartbeat_fallback(ctx: ToolContext, name: str, arguments: dict, outcome: ToolOutcome) -> ToolOutcome:
    """Weak models forget request_heartbeat after a tool that is not the end of their chain (say, an
    archival_memory_insert before the reply) and the turn stops there, silent. With the agent's
    heartbeat_fallback on, such a call goes on anyway, and its result tells the model, so that it learns.
    An explicit false is the model's choice and stays."""
    if (not ctx.state.heartbeat_fallback or name == "send_message" or outcome.heartbeat
            or "request_heartbeat" in arguments or _ends_with_send_message(ctx)):
        return outcome
    message = outcome.message
    if outcome.waits_for is None:  # a waiting call's result is the replies
        message = HEARTBEAT_FALLBACK_NOTE if message in (None, "") else f"{message}\n\n{HEARTBEAT_FALLBACK_NOTE}"
    return replace(outcome, heartbeat=True, message=message)


def execute(ctx: ToolContext, name: str, raw_arguments: str, call_id: str = "") -> ToolOutcome:
    """Run one tool call as the model sent it: a tool of the agent's tool set, or a failed result."""
    ctx = replace(ctx, call_id=call_id)
    tools = {tool.name: tool for tool in tools_of(ctx.state)}
    if name not in tools or (tools[name].kind == "builtin" and name not in TOOLS):
        return _failed(f"Unknown tool {name!r}. Available tools: {', '.join(tools)}.")
    try:
        # a model's "\u0000" or lone "\ud800" escapes become U+FFFD: PostgreSQL could not store them
        arguments = clean_json(json.loads(raw_arguments)) if raw_arguments.strip() else {}
    except json.JSONDecodeError as error:
        return _failed(f"The arguments of {name} are not valid JSON ({error.msg} at character {error.pos}). "
                       "Send them as one JSON object.")
    except RecursionError:
        return _failed(f"The arguments of {name} are nested too deeply. Send them as one flat JSON object.")
    if not isinstance(arguments, dict):
        return _failed(f"The arguments of {name} must be a JSON object, not {type(arguments).__name__}.")
    if tools[name].kind == "custom":
        try:
            return heartbeat_fallback(ctx, name, arguments, _run_custom(ctx, tools[name], dict(arguments)))
        except Exception as error:  # a bug of ours: the model reads it, the turn goes on
            logger.warning("custom tool %s raised", name, exc_info=True)
            return _failed(f"{name} failed: {type(error).__name__}: {str(error)[:MAX_ERROR_CHARS]}")
    model, function = TOOLS[name]
    try:
        parsed = model.model_validate(arguments)
    except ValidationError as error:
        return _failed(_explain(error, name))
    try:
        return heartbeat_fallback(ctx, name, arguments, function(ctx, parsed))
    except Exception as error:  # a bug, or input the store refuses: the model reads it, the turn goes on
        logger.warning("tool %s raised", name, exc_info=True)
        return _failed(f"{name} failed: {type(error).__name__}: {str(error)[:MAX_ERROR_CHARS]}")
