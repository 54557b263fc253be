"""/v1/steps/{id}/replay, /v1/steps/{id}/replays and /v1/replays/{id}: a step's request sent again with
changes, on a worker, and the new answer beside the stored one (agents/history/replay.py)."""

import asyncio
import time

from channels.db import database_sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from agents.history.replay import replay_enqueue
from agents.models import StepReplay
from playground.api import serializers as s
from playground.api.ids import from_id, to_id
from playground.api.selectors import step_get
from playground.api.serializers.replays import ReplayIn, ReplayOut
from playground.api.views.base import ApiView, listed, query

TAG = ["time travel"]
POLL_SECONDS = 0.2
QUEUE_SECONDS = 30  # a replay's wait: its one LLM call (LLM_TIMEOUT), and this long in the worker's queue
FINISHED = (StepReplay.Status.DONE, StepReplay.Status.FAILED)


def replay_get(owner, pk: int) -> StepReplay:
    try:
        return StepReplay.objects.select_related("step__agent").get(step__agent__owner=owner, pk=pk)
    except StepReplay.DoesNotExist:
        raise NotFound(f"No replay with id {to_id('replay', pk)!r}.") from None


class StepReplayCreate(ApiView):
    @extend_schema(tags=TAG, summary="Send a step's request again with changes, and compare the answers",
                   request=ReplayIn, responses={200: ReplayOut, 202: ReplayOut},
                   description="The step's exact request, with the model, temperature, base instructions, core "
                               "memory block values or tool set changed, sent again on a worker. The agent is not "
                               "touched. Answers the replay with its comparison to the stored answer once the model "
                               "has answered; 202 with the replay to poll (GET /v1/replays/{replay_id}) if it takes "
                               "longer. 400 for changes that cannot be made (an unknown block, tool or model).")
    def post(self, request: Request, step_id: str) -> Response:
        step = step_get(request.user, from_id("step", step_id))
        data = ReplayIn(data=request.data)
        data.is_valid(raise_exception=True)
        replay = replay_enqueue(step=step, changes=data.changes(), user=request.user)
        return Response(ReplayOut(replay).data, status=status.HTTP_202_ACCEPTED)


_create = StepReplayCreate.as_view()


@csrf_exempt  # as DRF's views are: the API takes tokens, not cookies
async def step_replay(request: HttpRequest, step_id: str) -> HttpResponse:
    """StepReplayCreate, then the wait for its answer in the event loop: a sync view waiting would hold up the
    one thread Django runs every sync view on. Its status is decided after the wait (200, or 202 to poll),
    which a streamed answer (playground/api/waiting.py) could not do."""
    queued = await database_sync_to_async(_create)(request, step_id=step_id)  # the connection goes back after it
    if queued.status_code != status.HTTP_202_ACCEPTED:
        return queued
    pk = from_id("replay", queued.data["id"])
    deadline = time.monotonic() + settings.LLM_TIMEOUT + QUEUE_SECONDS
    while time.monotonic() < deadline:
        if await database_sync_to_async(_finished)(pk):
            return JsonResponse(await database_sync_to_async(_answer)(pk), json_dumps_params={"ensure_ascii": False})
        await asyncio.sleep(POLL_SECONDS)
    return queued


step_replay.cls, step_replay.initkwargs = _create.cls, _create.initkwargs  # so that the schema documents it


def _finished(pk: int) -> bool:
    return StepReplay.objects.filter(pk=pk, status__in=FINISHED).exists()


def _answer(pk: int) -> dict:
    return ReplayOut(StepReplay.objects.select_related("step__agent").get(pk=pk)).data


class StepReplays(ApiView):
    @extend_schema(tags=TAG, summary="The replays of a step, oldest first", parameters=[s.ListQuery],
                   responses=ReplayOut(many=True))
    def get(self, request: Request, step_id: str) -> Response:
        step = step_get(request.user, from_id("step", step_id))
        replays = StepReplay.objects.filter(step=step).select_related("step__agent")
        return Response(ReplayOut(listed(replays, query(request, s.ListQuery), "replay"), many=True).data)


class ReplayDetail(ApiView):
    @extend_schema(tags=TAG, summary="Retrieve a replay, with its comparison once it has finished",
                   responses=ReplayOut)
    def get(self, request: Request, replay_id: str) -> Response:
        return Response(ReplayOut(replay_get(request.user, from_id("replay", replay_id))).data)
