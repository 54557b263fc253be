"""Waiting for a run the API queued (a turn, or a summary asked for), then answering with what it
did. The wait happens in the event loop, not in the view's thread: Django runs every sync view on
one shared thread under ASGI, so a view blocked on a run would queue every other request (and every
other agent's turn) behind it."""

import json
import time
from typing import Any, AsyncIterator, Callable

from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from django.db import connection
from django.http import StreamingHttpResponse

from agents.events import received, run_group
from agents.models import Run
from agents.services import turn_withdraw
from memory.broadcast import Listener
from playground.api import letta
from playground.api.ids import to_id
from playground.outages import REDIS_DOWN, redis_unreachable

IDLE_SECONDS = 5.0  # with no event for this long, look at the run in the database (a stream pings then)


def run_answered(run: Run, answer: Callable[[Run], dict[str, Any]], timeout: float) -> StreamingHttpResponse:
    """Wait up to `timeout` seconds for `run` to end, then answer `answer(run)` as JSON; a run still
    going after that answers with the run to poll. The run's group is listened to before the answer
    starts: with Redis away the request is refused (503) and the run withdrawn, not left queued for
    nobody. `answer` runs in a thread of its own, so it may read the database."""
    try:
        listener = async_to_sync(Listener.open)(run_group(run.pk))
    except Exception as error:
        if redis_unreachable(error):
            turn_withdraw(run=run, reason=REDIS_DOWN)
        raise

    async def body() -> AsyncIterator[bytes]:
        try:
            await _wait_for_end(listener, run.pk, timeout)
        finally:
            await listener.close()
        yield json.dumps(await _final(run.pk, answer), ensure_ascii=False).encode()

    connection.close()  # back to the pool for as long as the run takes
    return StreamingHttpResponse(body(), content_type="application/json")


@database_sync_to_async
def _final(run_id: int, answer: Callable[[Run], dict[str, Any]]) -> dict[str, Any]:
    run = Run.objects.select_related("agent").get(pk=run_id)
    if run.status not in letta.FINISHED:
        return {"detail": f"The run {to_id('run', run.pk)} is still {letta.RUN_STATUS[run.status]}; "
                          f"poll GET /v1/runs/{to_id('run', run.pk)}.", "code": "gateway_timeout",
                "run_id": to_id("run", run.pk)}
    return answer(run)


@database_sync_to_async
def _finished(run_id: int) -> bool:
    return Run.objects.filter(pk=run_id, status__in=letta.FINISHED).exists()


async def _wait_for_end(listener: Listener, run_id: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    if await _finished(run_id):  # it may have ended before we listened
        return
    while (left := deadline - time.monotonic()) > 0:
        message = await listener.receive(min(left, IDLE_SECONDS))
        if message is None:
            if await _finished(run_id):  # an event missed: the database has the last word
                return
            continue
        if received(message).kind == "stop":
            return
