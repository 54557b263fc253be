"""Turns as the API serves them: wait for one and answer with its messages, or stream its events
as Server-Sent Events in Letta's chunk shapes."""

import json
import logging
import time
from typing import Any, AsyncIterator

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection
from django.http import StreamingHttpResponse
from django.utils import timezone

from agents.engine.events import Event, message_events
from agents.engine.events import error as error_event
from agents.events import agent_group, received, run_group
from agents.models import Agent, Run
from agents.services import turn_enqueue, turn_withdraw
from agents.storage import message_view
from memory.broadcast import Listener
from memory.models import Message
from playground.api import letta
from playground.api.ids import to_id
from playground.outages import REDIS_DOWN, redis_unreachable

logger = logging.getLogger(__name__)

IDLE_SECONDS = 5.0  # with no event for this long, look at the run in the database (and ping)


def wait_seconds(agent: Agent) -> float:
    """How long to wait for a turn: every step may take the whole LLM time-out."""
    return settings.LLM_TIMEOUT * (agent.max_steps + 2)


def turn_events(run: Run) -> list[Event]:
    """The events of a turn's messages, read back from recall memory: the same its stream had."""
    return [e for m in Message.objects.filter(run=run).order_by("id") for e in message_events(message_view(m))]


def turn_messages(run: Run, options: dict) -> list[dict[str, Any]]:
    """What the agent did in a turn, read back from recall memory: the same messages its stream had."""
    return [converted for e in turn_events(run) if (converted := letta.turn_message(e, options)) is not None]


def turn_usage(run: Run) -> dict[str, Any]:
    # not the steps' request and response: a whole prompt each, and the usage needs neither
    return letta.usage(run, list(run.steps.defer("request", "response").order_by("index")))


def letta_response(run: Run, options: dict) -> dict[str, Any]:
    response = {
        "messages": turn_messages(run, options),
        "stop_reason": letta.stop_reason(run.stop_reason),
        "usage": turn_usage(run),
    }
    if run.error:
        response["error"] = run.error
    return response


def turn_answer(agent: Agent, text: str, options: dict, *, idempotency_key: str | None = None) -> StreamingHttpResponse:
    """Queue a turn and answer with its messages once it has ended.

    The wait happens in the event loop, not in a view: Django runs every sync view on one shared
    thread under ASGI, so a view blocked on a turn would queue every other request (and every other
    agent's turn) behind it. The body is one JSON document, written when the run's "stop" arrives; a
    turn still running after the wait answers with a pointer to the run to poll. Listening starts
    before the response does: with Redis away the request is refused (503) and the turn withdrawn,
    rather than a 200 whose body never comes."""
    run = turn_enqueue(agent=agent, text=text, idempotency_key=idempotency_key)
    try:
        listener = async_to_sync(Listener.open)(run_group(run.pk))  # the stop alone, not every event of the turn
    except Exception as error:
        if redis_unreachable(error):
            turn_withdraw(run=run, reason=REDIS_DOWN)
        raise

    async def body() -> AsyncIterator[bytes]:
        try:
            await _wait_for_stop(listener, run, wait_seconds(agent))
        finally:
            await listener.close()
        yield json.dumps(await _answer(run.pk, options), ensure_ascii=False).encode()

    connection.close()  # back to the pool for as long as the turn runs
    return StreamingHttpResponse(body(), content_type="application/json")


@database_sync_to_async
def _answer(run_id: int, options: dict) -> dict[str, Any]:
    run = Run.objects.get(pk=run_id)
    if run.status not in letta.FINISHED:
        return {"detail": f"The turn {to_id('run', run.pk)} is still {letta.RUN_STATUS[run.status]}; "
                          f"poll GET /v1/runs/{to_id('run', run.pk)}.", "code": "gateway_timeout",
                "run_id": to_id("run", run.pk)}
    return letta_response(run, options)


@database_sync_to_async
def _finished(run_id: int) -> bool:
    return Run.objects.filter(pk=run_id, status__in=letta.FINISHED).exists()


async def _wait_for_stop(listener: Listener, run: Run, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    if await _finished(run.pk):  # it may have ended before we listened
        return
    while (left := deadline - time.monotonic()) > 0:
        message = await listener.receive(min(left, IDLE_SECONDS))
        if message is None:
            if await _finished(run.pk):  # an event missed: the database has the last word
                return
            continue
        if received(message).kind == "stop":
            return


# --- streaming ----------------------------------------------------------------------------------


def _sse(payload: dict[str, Any] | str) -> bytes:
    data = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return f"data: {data}\n\n".encode()


@database_sync_to_async
def _run_now(run_id: int) -> Run:
    return Run.objects.get(pk=run_id)


@database_sync_to_async
def _usage_of(run_id: int) -> dict[str, Any]:
    return turn_usage(Run.objects.get(pk=run_id))


def turn_stream(agent: Agent, text: str, options: dict, *, idempotency_key: str | None = None) -> StreamingHttpResponse:
    """Queue a turn and answer with its events as they happen.

    The response listens on the agent's Channels group from before the turn is queued, so no
    event of the turn can slip past it. With an `idempotency_key` the run may be one that an earlier
    request queued (turn_enqueue): what it did so far is read back from recall memory first, then the
    rest follows as it happens, each message once."""
    listener = async_to_sync(Listener.open)(agent_group(agent.pk))
    try:
        run = turn_enqueue(agent=agent, text=text, idempotency_key=idempotency_key)
    except BaseException:
        async_to_sync(listener.close)()
        raise
    chunks = _chunks(listener, run.pk, options, wait_seconds(agent), replay=idempotency_key is not None)
    connection.close()  # back to the pool for as long as the turn runs
    response = StreamingHttpResponse(chunks, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a proxy in front must not hold the events back
    return response


async def _chunks(listener: Listener, run_id: int, options: dict, timeout: float, *,
                  replay: bool = False) -> AsyncIterator[bytes]:
    try:
        async for chunk in _turn_chunks(listener, run_id, options, timeout, replay=replay):
            yield chunk
    except Exception as error:  # the headers are sent: say what went wrong in the stream itself
        logger.exception("stream of run %s failed", run_id)
        yield _sse({"message_type": "error_message", "error_type": "internal_error", "run_id": to_id("run", run_id),
                    "message": f"The stream failed ({type(error).__name__}); the turn goes on: poll GET /v1/runs/"
                               f"{to_id('run', run_id)}.", "detail": None})
    finally:
        await listener.close()
    yield _sse("[DONE]")


@database_sync_to_async
def _stored(run_id: int) -> tuple[Run, list[Event]]:
    run = Run.objects.get(pk=run_id)  # read first: the events of a run that has ended are all stored
    return run, turn_events(run)


async def _turn_chunks(listener: Listener, run_id: int, options: dict, timeout: float, *,
                       replay: bool = False) -> AsyncIterator[bytes]:
    deadline = time.monotonic() + timeout
    replayed: set[int] = set()  # messages already sent from recall memory
    if replay:
        run, events = await _stored(run_id)
        for event in events:
            replayed.add(event["id"])
            if (chunk := letta.turn_message(event, options)) is not None:
                yield _sse(chunk)
        if run.status in letta.FINISHED:
            if run.error and (chunk := letta.turn_message(error_event(run_id=run_id, message=run.error), options)):
                yield _sse(chunk)
            yield _sse(letta.stop_reason(run.stop_reason))
            yield _sse(await _usage_of(run_id))
            return
    while True:
        message = await listener.receive(IDLE_SECONDS)
        if message is None:
            run = await _run_now(run_id)
            if run.status in letta.FINISHED:  # its stop event did not reach us; the database knows the end
                yield _sse(letta.stop_reason(run.stop_reason))
                yield _sse(await _usage_of(run_id))
                return
            if time.monotonic() > deadline:
                yield _sse({"message_type": "error_message", "error_type": "timeout", "run_id": to_id("run", run_id),
                            "message": f"The turn is still {letta.RUN_STATUS[run.status]}; poll GET /v1/runs/"
                                       f"{to_id('run', run_id)}.", "detail": None})
                return
            if options["include_pings"]:
                yield _sse({"message_type": "ping", "id": f"ping-{run_id}", "date": timezone.now().isoformat(),
                            "run_id": to_id("run", run_id)})
            continue
        event = received(message)
        if event["run_id"] != run_id or event.get("id") in replayed:
            continue  # another turn of the same agent, or a message sent already
        if (chunk := letta.turn_message(event, options)) is not None:
            yield _sse(chunk)
        if event.kind == "stop":
            yield _sse(letta.stop_reason(event["stop_reason"]))
            yield _sse(await _usage_of(run_id))
            return
