"""Recall memory and turns: list an agent's messages, send one (wait, stream, or get a run to
poll), cancel, reset; search messages."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from agents.selectors import agent_for_owner
from agents.services import messages_reset, runs_cancel, turn_enqueue
from memory.models import Message
from playground.api import letta
from playground.api import serializers as s
from playground.api.ids import from_id, from_ids, to_id
from playground.api.selectors import messages_search
from playground.api.turns import turn_answer, turn_stream
from playground.api.views.agents import agent_out
from playground.api.views.base import ApiView, body, listed_messages, query

TAG = ["messages"]
STREAM = OpenApiResponse(description="Server-Sent Events: `data: <Letta message chunk>` lines (reasoning_message, "
                                     "tool_call_message, tool_return_message, assistant_message, error_message, "
                                     "ping), then stop_reason and usage_statistics, then `data: [DONE]`. Each chunk "
                                     "but pings carries the run_id and a seq_id: POST /v1/runs/{run_id}/stream with "
                                     "starting_after=<the last seq_id> reads on from there.")


IDEMPOTENCY_KEY = OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER, required=False, description=(
    "A retry with the same key gets the first request's turn (its answer or stream) instead of a second turn."))


def _options(data: dict) -> dict:
    return {name: data.get(name) for name in ("include_return_message_types", "use_assistant_message",
                                               "include_compaction_messages", "include_pings", "stream_tokens")}


def _idempotency_key(request: Request, data: dict) -> str | None:
    """The Idempotency-Key header (or the message's otid): a retry with the same key gets the first
    request's run, its answer or its stream, and queues no second turn."""
    key = request.headers.get("Idempotency-Key")
    if key is None:
        return data["otid"]
    if not key.strip() or len(key) > 255:
        raise ValidationError({"Idempotency-Key": ["A key of 1 to 255 characters."]})
    return key.strip()


class AgentMessages(ApiView):
    @extend_schema(tags=TAG, summary="An agent's messages (recall memory), newest first unless order=asc",
                   parameters=[s.MessageListQuery], responses=s.MessageOut(many=True))
    def get(self, request: Request, agent_id: str) -> Response:
        agent = agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id))
        params = query(request, s.MessageListQuery)
        types, assistant = params.get("include_return_message_types"), params["use_assistant_message"]
        return Response(listed_messages(
            Message.objects.filter(agent=agent), params, newest_first=True,
            convert=lambda row: letta.from_messages([row], types=types, use_assistant_message=assistant)))

    @extend_schema(tags=TAG, summary="Send a message and get the turn's messages (or, with streaming: true, its events; "
                                     "with background: true, its run)",
                   parameters=[IDEMPOTENCY_KEY], request=s.MessageSend, responses={200: s.LettaResponseOut, 503: OpenApiResponse(
                       description="No LLM is configured.")})
    def post(self, request: Request, agent_id: str):
        agent = agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id))
        data = body(request, s.MessageSend)
        key = _idempotency_key(request, data)
        if data["streaming"]:
            return turn_stream(agent, data["text"], _options(data), idempotency_key=key)
        if data["background"]:
            return Response(s.RunOut(turn_enqueue(agent=agent, text=data["text"], idempotency_key=key)).data)
        return turn_answer(agent, data["text"], _options(data), idempotency_key=key)


class AgentMessagesStream(ApiView):
    @extend_schema(tags=TAG, summary="Send a message and stream the turn's events", parameters=[IDEMPOTENCY_KEY],
                   request=s.MessageSend, responses={200: STREAM})
    def post(self, request: Request, agent_id: str):
        agent = agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id))
        data = body(request, s.MessageSend)
        return turn_stream(agent, data["text"], _options(data), idempotency_key=_idempotency_key(request, data))


class AgentMessagesAsync(ApiView):
    @extend_schema(tags=TAG, summary="Send a message and get the run to poll", parameters=[IDEMPOTENCY_KEY],
                   request=s.MessageSend, responses=s.RunOut)
    def post(self, request: Request, agent_id: str) -> Response:
        agent = agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id))
        data = body(request, s.MessageSend)
        run = turn_enqueue(agent=agent, text=data["text"], idempotency_key=_idempotency_key(request, data))
        return Response(s.RunOut(run).data)


class AgentMessagesCancel(ApiView):
    @extend_schema(tags=TAG, summary="Cancel the agent's queued turns (all, or run_ids)", request=s.CancelIn,
                   responses={200: {"type": "object", "additionalProperties": {"type": "string"}}})
    def post(self, request: Request, agent_id: str) -> Response:
        agent = agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id))
        data = body(request, s.CancelIn)
        run_ids = data.get("run_ids")
        outcome = runs_cancel(agent=agent, run_ids=None if run_ids is None else from_ids("run", run_ids))
        return Response({to_id("run", pk): status for pk, status in outcome.items()})


class AgentMessagesReset(ApiView):
    @extend_schema(tags=TAG, summary="Empty the context window (recall memory keeps every message)", request=s.ResetIn,
                   responses=s.AgentOut)
    def patch(self, request: Request, agent_id: str) -> Response:
        agent = agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id))
        body(request, s.ResetIn)
        messages_reset(agent=agent)
        return Response(agent_out(request.user, agent.pk))


class MessageSearch(ApiView):
    @extend_schema(tags=TAG, summary="Search what users said and agents answered", request=s.MessageSearch,
                   responses=s.MessageHitOut(many=True))
    def post(self, request: Request) -> Response:
        data = body(request, s.MessageSearch)
        agent = agent_for_owner(owner=request.user, agent_id=from_id("agent", data["agent_id"])) if data.get("agent_id") else None
        hits = messages_search(request.user, query=data["query"], agent=agent, mode=data["search_mode"],
                               start=data.get("start_date"), end=data.get("end_date"), limit=data["limit"])
        return Response([{"message_type": "user_message" if m.kind == Message.Kind.USER_MESSAGE else "assistant_message",
                          "message_id": to_id("message", m.pk), "agent_id": to_id("agent", m.agent_id),
                          "content": m.text, "created_at": m.created_at.isoformat(), "conversation_id": None}
                         for m in hits])


class MessageDetail(ApiView):
    @extend_schema(tags=TAG, summary="One stored message, as its Letta messages", responses=s.MessageOut(many=True))
    def get(self, request: Request, message_id: str) -> Response:
        message = Message.objects.get(owner=request.user, pk=from_id("message", message_id))
        return Response(letta.from_message(message))
