"""Recall memory beyond one turn: the messages of all one's agents, editing a message, and folding
the oldest part of the context window into the recursive summary on request."""

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from agents.models import Run
from agents.selectors import agent_for_owner
from agents.services import agent_summarize_enqueue, message_edit
from memory.models import Message
from playground.api import letta
from playground.api import serializers as s
from playground.api.ids import from_id, to_id
from playground.api.serializers.messages import AllMessagesQuery, CompactionIn, CompactionOut, MessageEdit
from playground.api.views.base import ApiView, body, listed_messages, query
from playground.api.turns import wait_seconds
from playground.api.waiting import run_answered

TAG = ["messages"]


class AllMessages(ApiView):
    @extend_schema(tags=TAG, summary="The messages of all your agents, newest first unless order=asc",
                   parameters=[AllMessagesQuery], responses=s.MessageOut(many=True))
    def get(self, request: Request) -> Response:
        params = query(request, AllMessagesQuery)
        types = params.get("include_return_message_types")

        def convert(row: Message) -> list[dict]:  # Letta's messages name no agent; with several, ours do
            return [{**m, "agent_id": to_id("agent", row.agent_id)} for m in letta.from_messages([row], types=types)]

        return Response(listed_messages(Message.objects.filter(owner=request.user), params, convert, newest_first=True))


class AgentMessageEdit(ApiView):
    @extend_schema(tags=TAG, summary="Edit what a message of recall memory says (Letta's modify_message)",
                   request=MessageEdit, responses=s.MessageOut)
    def patch(self, request: Request, agent_id: str, message_id: str) -> Response:
        agent = agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id))
        message = Message.objects.get(agent=agent, pk=from_id("message", message_id))
        data = body(request, MessageEdit)
        message = message_edit(message=message, message_type=data["message_type"], text=data["text"])
        shown = [m for m in letta.from_message(message) if m["message_type"] == data["message_type"]]
        return Response(shown[0])


class AgentSummarize(ApiView):
    @extend_schema(tags=TAG, summary="Fold the oldest part of the context window into the recursive summary, as "
                                     "memory pressure does", request=CompactionIn,
                   responses={200: CompactionOut, 400: OpenApiResponse(description="Too few messages to summarize."),
                              503: OpenApiResponse(description="No LLM is configured.")})
    def post(self, request: Request, agent_id: str):
        agent = agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id))
        body(request, CompactionIn)
        before = Message.objects.filter(agent=agent, in_context=True).count()
        run = agent_summarize_enqueue(agent=agent)
        # turns queued before it go first: wait as long as for a turn
        return run_answered(run, lambda run: _compaction(run, before), wait_seconds(agent))


def _compaction(run: Run, before: int) -> dict:
    """Letta's CompactionResponse for a summary run that has ended; why not, for one that failed."""
    summary = Message.objects.filter(run=run, kind=Message.Kind.SUMMARY).order_by("-id").first()
    if run.status != Run.Status.COMPLETED or summary is None:
        return {"detail": run.error or f"The summary run ended {letta.RUN_STATUS[run.status]}.",
                "code": "summary_failed", "run_id": to_id("run", run.pk)}
    # the context as the summary left it: what later turns added is not part of this answer
    after = Message.objects.filter(agent_id=run.agent_id, in_context=True, pk__lte=summary.pk).count()
    return {"summary": summary.text, "num_messages_before": before, "num_messages_after": after,
            "run_id": to_id("run", run.pk)}
