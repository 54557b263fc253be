"""Turns as the API serves them: wait for one and answer with its messages, or stream its events
as Server-Sent Events in Letta's chunk shapes."""

import json
import logging
import time
from typing import Any, AsyncIterator

from channels.db import database_sync_to_async
from django.conf import settings
from django.db import connection
from django.http import StreamingHttpResponse
from django.utils import timezone

from agents.engine.events import Event, message_events
from agents.engine.events import error as error_event
from agents.events import received, run_log
from agents.models import Agent, Run
from agents.services import turn_enqueue
from agents.storage import message_view
from memory.broadcast import Log
from memory.embedding_queue import client as redis_client
from memory.models import Message
from playground.api import letta
from playground.api.ids import to_id
from playground.api.waiting import IDLE_SECONDS, run_answered

logger = logging.getLogger(__name__)


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
    """Queue a turn and answer with its messages once it has ended (playground.api.waiting: the wait
    happens in the event loop, and with Redis away the request is refused and the turn withdrawn)."""
    run = turn_enqueue(agent=agent, text=text, idempotency_key=idempotency_key)
    return run_answered(run, lambda run: letta_response(run, options), wait_seconds(agent))


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
    """Queue a turn and answer with its events as they happen, read from the run's log.

    Every event of a run is kept, numbered, in its log (agents.events.run_log), which outlives the
    request: the stream reads it from the start, so no event can slip past it, and a client that
    lost the connection reads on with GET /v1/runs/{id}/stream?starting_after=<the last seq_id it
    saw> (`run_stream`). With an `idempotency_key` the run may be one that an earlier request
    queued (turn_enqueue): its stream is read again from the start, each event once. Redis (where
    the log lives) is asked first: with Redis away the request is refused (503) before a turn is
    queued, rather than a 200 whose events never come."""
    redis_client(settings.REDIS_URL).ping()
    run = turn_enqueue(agent=agent, text=text, idempotency_key=idempotency_key)
    _keep_options(run.pk, options)
    return _event_stream(run.pk, options, after=0, timeout=wait_seconds(agent))


def run_stream(run: Run, options: dict, *, starting_after: int) -> StreamingHttpResponse:
    """A run's events from its log after number `starting_after`, live while it goes on. Chunks are
    shaped as the request that started the run asked (stream_tokens, use_assistant_message, ...),
    unless this request says otherwise. A run whose log is gone (kept EVENT_LOG_SECONDS) is read
    back from recall memory: its messages, whole."""
    kept = redis_client(settings.REDIS_URL).get(_options_key(run.pk))
    options = {**(json.loads(kept) if kept else {}), **{k: v for k, v in options.items() if v is not None}}
    options.setdefault("use_assistant_message", True)
    for name in ("include_return_message_types", "include_compaction_messages", "include_pings", "stream_tokens"):
        options.setdefault(name, None)
    return _event_stream(run.pk, options, after=starting_after, timeout=wait_seconds(run.agent))


def _options_key(run_id: int) -> str:
    return f"{run_log(run_id)}:options"


def _keep_options(run_id: int, options: dict) -> None:
    # the first request's, so a retry or a reconnection reads the stream as it was first asked for
    redis_client(settings.REDIS_URL).set(_options_key(run_id), json.dumps(options), nx=True,
                                         ex=int(settings.EVENT_LOG_SECONDS))


def _event_stream(run_id: int, options: dict, *, after: int, timeout: float) -> StreamingHttpResponse:
    connection.close()  # back to the pool for as long as the turn runs
    response = StreamingHttpResponse(_chunks(run_id, options, after, timeout), content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # a proxy in front must not hold the events back
    return response


async def _chunks(run_id: int, options: dict, after: int, timeout: float) -> AsyncIterator[bytes]:
    log = Log(run_log(run_id))
    try:
        async for chunk in _run_chunks(log, run_id, options, after, timeout):
            yield chunk
    except Exception as error:  # the headers are sent: say what went wrong in the stream itself
        logger.exception("stream of run %s failed", run_id)
        yield _sse({"message_type": "error_message", "error_type": "internal_error", "run_id": to_id("run", run_id),
                    "message": f"The stream failed ({type(error).__name__}); the turn goes on: read it on with POST "
                               f"/v1/runs/{to_id('run', run_id)}/stream, or poll GET /v1/runs/{to_id('run', run_id)}.",
                    "detail": None})
    finally:
        await log.close()
    yield _sse("[DONE]")


@database_sync_to_async
def _stored(run_id: int) -> tuple[Run, list[Event]]:
    run = Run.objects.get(pk=run_id)  # read first: the events of a run that has ended are all stored
    return run, turn_events(run)


async def _run_chunks(log: Log, run_id: int, options: dict, after: int, timeout: float) -> AsyncIterator[bytes]:
    deadline = time.monotonic() + timeout
    number = after
    while True:
        entries = await log.after(number, IDLE_SECONDS)
        if not entries:
            run = await _run_now(run_id)
            if run.status in letta.FINISHED:
                if number == 0 and await log.length() == 0:  # its log is gone: what recall memory kept
                    async for chunk in _from_recall_memory(run_id, options):
                        yield chunk
                    return
                entries = await log.after(number, 1.0)  # the last events may still be on their way
                if not entries:  # its stop never reached the log (Redis was away): the database knows the end
                    yield _sse(letta.stop_reason(run.stop_reason))
                    yield _sse(await _usage_of(run_id))
                    return
            elif time.monotonic() > deadline:
                yield _sse({"message_type": "error_message", "error_type": "timeout", "run_id": to_id("run", run_id),
                            "message": f"The turn is still {letta.RUN_STATUS[run.status]}; read on with POST /v1/runs/"
                                       f"{to_id('run', run_id)}/stream and starting_after={number}, or poll GET "
                                       f"/v1/runs/{to_id('run', run_id)}.", "detail": None})
                return
            else:
                if options["include_pings"]:
                    yield _sse({"message_type": "ping", "id": f"ping-{run_id}", "date": timezone.now().isoformat(),
                                "run_id": to_id("run", run_id)})
                continue
        for number, message in entries:
            event = received(message)
            if (chunk := letta.stream_message(event, options)) is not None:
                yield _sse({**chunk, "seq_id": number})
            if event.kind == "stop":
                yield _sse({**letta.stop_reason(event["stop_reason"]), "seq_id": number})
                yield _sse({**await _usage_of(run_id), "seq_id": number})
                return


async def _from_recall_memory(run_id: int, options: dict) -> AsyncIterator[bytes]:
    run, events = await _stored(run_id)
    for event in events:
        if (chunk := letta.turn_message(event, options)) is not None:
            yield _sse(chunk)
    if run.error and (chunk := letta.turn_message(error_event(run_id=run_id, message=run.error), options)):
        yield _sse(chunk)
    yield _sse(letta.stop_reason(run.stop_reason))
    yield _sse(await _usage_of(run_id))
