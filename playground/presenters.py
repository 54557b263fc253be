"""Recall memory as a person reads it: stored messages as the events of agents.engine.events,
grouped by turn, each tool call with its result, and the error a failed turn ended with, for the
chat's template. The websocket shows the same events live, with the same partials."""

from dataclasses import dataclass, field

from agents.engine import events
from agents.engine.events import Event, message_events
from agents.models import Run, Step
from agents.storage import message_view
from memory.models import Message


ANSWERS = ("reasoning", "tool_call", "assistant_message")  # the events of an assistant message


@dataclass
class ChatTurn:
    run_id: int | None
    items: list[tuple[Event, Event | None]] = field(default_factory=list)  # (event, the result of a tool call)


def chat_turns(messages: list[Message], *, agent_id: int, oldest: bool, newest: bool = True) -> list[ChatTurn]:
    """The turns of these messages (a page of the agent's history, in order; `oldest` if nothing is
    older, `newest` if nothing is newer), with the errors of failed runs among them."""
    turns: list[ChatTurn] = []
    waiting: dict[str, tuple[ChatTurn, int]] = {}  # a call's id -> where the call is, until its result comes
    for event in _with_steps([e for m in messages for e in message_events(message_view(m))]):
        if event.kind == "tool_result":
            if (place := waiting.pop(event["tool_call_id"], None)) is not None:
                turn, index = place
                turn.items[index] = (turn.items[index][0], event)
            continue  # shown in its call
        if not turns or turns[-1].run_id != event["run_id"]:
            turns.append(ChatTurn(event["run_id"]))
        if event.kind == "tool_call":
            waiting[event["tool_call_id"]] = (turns[-1], len(turns[-1].items))
        turns[-1].items.append((event, None))
    return _with_errors(turns, agent_id=agent_id, oldest=oldest, newest=newest)


def _with_steps(stored: list[Event]) -> list[Event]:
    """The usage line of each step before what the step answered, as it came live."""
    answered = {e["step_id"] for e in stored if e.kind in ANSWERS and e["step_id"]}
    steps = Step.objects.filter(pk__in=answered, purpose=Step.Purpose.AGENT).defer("request", "response")
    usage = {s.pk: events.usage(run_id=s.run_id, step_id=s.pk, step=s.index, purpose=s.purpose, tokens=s.tokens,
                                usage=s.usage, latency_ms=s.latency_ms) for s in steps}
    out, shown = [], set()
    for event in stored:
        if event.kind in ANSWERS and event["step_id"] in usage and event["step_id"] not in shown:
            shown.add(event["step_id"])
            out.append(usage[event["step_id"]])
        out.append(event)
    return out


def _with_errors(turns: list[ChatTurn], *, agent_id: int, oldest: bool, newest: bool) -> list[ChatTurn]:
    run_ids = [t.run_id for t in turns if t.run_id is not None]
    failed = Run.objects.filter(agent_id=agent_id, status=Run.Status.FAILED).exclude(error="").order_by("id")
    if run_ids and not oldest:
        failed = failed.filter(pk__gte=min(run_ids))
    if not newest:
        failed = failed.filter(pk__lte=max(run_ids, default=0))
    by_run = {t.run_id: t for t in turns}
    for run in failed.only("id", "error"):
        turn = by_run.get(run.pk)
        if turn is None:  # it failed before storing anything: a turn of its own, where its id puts it
            turn = by_run[run.pk] = ChatTurn(run.pk)
            after = next((i for i, t in enumerate(turns) if t.run_id is not None and t.run_id > run.pk), len(turns))
            turns.insert(after, turn)
        turn.items.append((events.error(run_id=run.pk, message=run.error), None))
    return turns
