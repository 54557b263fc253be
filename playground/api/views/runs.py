"""Runs (one turn each) and steps (one LLM call each, with the exact prompt sent)."""

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from agents.models import Agent, Step
from agents.selectors import agent_for_owner
from memory.models import Message
from playground.api import letta
from playground.api import serializers as s
from playground.api.serializers.runs import RunTraceQuery, RunTraceSpanOut
from playground.api.ids import from_id, from_ids, to_id
from playground.api.selectors import owned, run_get, runs_matching, step_get, steps_matching
from playground.api.turns import run_stream, turn_usage
from playground.api.views.base import ApiView, body, listed, listed_messages, query
from playground.api.views.messages import STREAM

TAG = ["runs"]


class RunList(ApiView):
    @extend_schema(tags=TAG, summary="List runs, newest first", parameters=[s.RunListQuery], responses=s.RunOut(many=True))
    def get(self, request: Request) -> Response:
        params = query(request, s.RunListQuery)
        named = (params.get("agent_ids") or []) + ([params["agent_id"]] if params.get("agent_id") else [])
        runs = runs_matching(request.user, agents=owned(Agent, request.user, from_ids("agent", named)),
                             statuses=[ours for status in params.get("statuses") or [] for ours in letta.RUN_STATUS_OURS[status]],
                             active=params.get("active"), stop_reason=params.get("stop_reason"))
        return Response(s.RunOut(listed(runs, params, "run", newest_first=True), many=True).data)


class RunDetail(ApiView):
    @extend_schema(tags=TAG, summary="Retrieve a run", responses=s.RunOut)
    def get(self, request: Request, run_id: str) -> Response:
        return Response(s.RunOut(run_get(request.user, from_id("run", run_id))).data)


class RunMessages(ApiView):
    @extend_schema(tags=TAG, summary="The messages of a run", parameters=[s.ListQuery], responses=s.MessageOut(many=True))
    def get(self, request: Request, run_id: str) -> Response:
        run = run_get(request.user, from_id("run", run_id))
        return Response(listed_messages(Message.objects.filter(run=run), query(request, s.ListQuery), letta.from_message))


class RunSteps(ApiView):
    @extend_schema(tags=TAG, summary="The steps (LLM calls) of a run", parameters=[s.ListQuery], responses=s.StepOut(many=True))
    def get(self, request: Request, run_id: str) -> Response:
        run = run_get(request.user, from_id("run", run_id))
        steps = Step.objects.filter(run=run).select_related("agent")
        return Response(s.StepOut(listed(steps, query(request, s.ListQuery), "step"), many=True).data)


class RunUsage(ApiView):
    @extend_schema(tags=TAG, summary="Tokens a run used, as the provider reported them", responses=s.RunUsageOut)
    def get(self, request: Request, run_id: str) -> Response:
        usage = turn_usage(run_get(request.user, from_id("run", run_id)))
        return Response({name: usage[name] for name in ("prompt_tokens", "completion_tokens", "total_tokens")})


class RunTrace(ApiView):
    @extend_schema(tags=TAG, summary="The run's steps as trace spans: each LLM call's exact request, response, usage "
                                     "and latency, in order", parameters=[RunTraceQuery], responses=RunTraceSpanOut(many=True))
    def get(self, request: Request, run_id: str) -> Response:
        run = run_get(request.user, from_id("run", run_id))
        steps = Step.objects.filter(run=run).order_by("index")[:query(request, RunTraceQuery)["limit"]]
        return Response([_span(step) for step in steps])


def _span(step: Step) -> dict:
    """Letta answers OpenTelemetry spans here; ours are the steps, the same for every field they share."""
    return {"span_name": "agent_step" if step.purpose == Step.Purpose.AGENT else "summary",
            "span_id": to_id("step", step.pk), "trace_id": to_id("run", step.run_id), "step_id": to_id("step", step.pk),
            "run_id": to_id("run", step.run_id), "agent_id": to_id("agent", step.agent_id), "index": step.index,
            "model": step.model, "request_json": step.request, "response_json": step.response, "usage": step.usage,
            "prompt_tokens": step.prompt_tokens, "completion_tokens": step.completion_tokens, "tokens": step.tokens,
            "latency_ms": round(step.latency_ms) if step.latency_ms is not None else None,
            "error": step.error or None, "created_at": step.created_at.isoformat()}


class StepList(ApiView):
    @extend_schema(tags=TAG, summary="List steps, newest first", parameters=[s.StepListQuery], responses=s.StepOut(many=True))
    def get(self, request: Request) -> Response:
        params = query(request, s.StepListQuery)
        agent = agent_for_owner(owner=request.user, agent_id=from_id("agent", params["agent_id"])) if params.get("agent_id") else None
        steps = steps_matching(request.user, agent=agent, model=params.get("model"), start=params.get("start_date"),
                               end=params.get("end_date"))
        return Response(s.StepOut(listed(steps, params, "step", newest_first=True), many=True).data)


class StepDetail(ApiView):
    @extend_schema(tags=TAG, summary="Retrieve a step, with our exact token count per tier", responses=s.StepOut)
    def get(self, request: Request, step_id: str) -> Response:
        return Response(s.StepOut(step_get(request.user, from_id("step", step_id))).data)


class StepTrace(ApiView):
    @extend_schema(tags=TAG, summary="The exact request a step sent and the response it got", responses=s.StepTraceOut)
    def get(self, request: Request, step_id: str) -> Response:
        step = step_get(request.user, from_id("step", step_id))
        return Response({"id": to_id("step", step.pk), "step_id": to_id("step", step.pk), "run_id": to_id("run", step.run_id),
                         "agent_id": to_id("agent", step.agent_id), "request_json": step.request,
                         "response_json": step.response or {}, "call_type": step.purpose,
                         "latency_ms": round(step.latency_ms) if step.latency_ms is not None else None,
                         "created_at": step.created_at.isoformat()})


class StepMessages(ApiView):
    @extend_schema(tags=TAG, summary="The messages a step produced", parameters=[s.ListQuery], responses=s.MessageOut(many=True))
    def get(self, request: Request, step_id: str) -> Response:
        step = step_get(request.user, from_id("step", step_id))
        return Response(listed_messages(Message.objects.filter(step=step), query(request, s.ListQuery), letta.from_message))


class RunStream(ApiView):
    """Letta's retrieve-stream route (POST, as the SDK calls it) and the same as a GET with the query."""

    @extend_schema(tags=TAG, summary="A run's events from a seq_id on, live while it goes on", request=s.RunStreamIn,
                   responses={200: STREAM})
    def post(self, request: Request, run_id: str):
        return self._stream(request, run_id, body(request, s.RunStreamIn))

    @extend_schema(tags=TAG, summary="A run's events from a seq_id on, live while it goes on", parameters=[s.RunStreamIn],
                   responses={200: STREAM})
    def get(self, request: Request, run_id: str):
        return self._stream(request, run_id, query(request, s.RunStreamIn))

    def _stream(self, request: Request, run_id: str, params: dict):
        run = run_get(request.user, from_id("run", run_id))
        options = {name: params[name] for name in ("include_pings", "stream_tokens", "use_assistant_message",
                                                   "include_return_message_types")}
        return run_stream(run, options, starting_after=params["starting_after"])
