"""/v1/agents/{agent_id}/rewind and .../rewinds: an agent returned to just before one of its steps, in
place, and the undo or confirmation of that (agents/history/rewind.py). 404 for another user's agent,
step or rewind; 409 while a run of the agent is under way, or for an undo no longer possible."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from agents.history.rewind import agent_rewind, rewind_confirm, rewind_preview, rewind_undo
from agents.models import Step
from agents.selectors import agent_for_owner
from playground.api.ids import from_id, to_id
from playground.api.serializers import rewinds as rs
from playground.api.views.agents import agent_out
from playground.api.views.base import ApiView, body

TAG = ["time travel"]


def _agent(request: Request, agent_id: str):
    return agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id))


def _rewind(request: Request, agent_id: str, rewind_id: str):
    return _agent(request, agent_id).rewinds.get(pk=from_id("rewind", rewind_id))


class AgentRewind(ApiView):
    @extend_schema(tags=TAG, summary="Rewind the agent to just before one of its steps", request=rs.RewindIn,
                   responses={200: rs.RewindResultOut, 201: rs.RewindResultOut},
                   description="What came after the step goes: its messages, archival passages, runs and steps, "
                               "block edits (core memory as it was then), wake-ups those steps scheduled. The "
                               "step waits to be made again (POST /v1/agents/{agent_id}/continue). What went is "
                               "kept until confirmed, so the latest rewind can be undone. dry_run: only the list.")
    def post(self, request: Request, agent_id: str) -> Response:
        agent = _agent(request, agent_id)
        data = body(request, rs.RewindIn)
        step = Step.objects.get(pk=from_id("step", data["step_id"]), agent=agent)
        if data["dry_run"]:
            return Response({**rs.preview_out(rewind_preview(agent=agent, step=step)), "id": None, "status": "dry_run",
                             "agent": agent_out(request.user, agent.pk)})
        rewind = agent_rewind(agent=agent, step=step, user=request.user)
        return Response({**rs.preview_out(rewind.preview), "id": to_id("rewind", rewind.pk), "status": rewind.status,
                         "agent": agent_out(request.user, agent.pk)}, status=status.HTTP_201_CREATED)


class AgentRewinds(ApiView):
    @extend_schema(tags=TAG, summary="The agent's rewinds, newest first", responses=rs.RewindOut(many=True))
    def get(self, request: Request, agent_id: str) -> Response:
        return Response([rs.rewind_out(r) for r in _agent(request, agent_id).rewinds.order_by("-id")[:100]])


class AgentRewindUndo(ApiView):
    @extend_schema(tags=TAG, summary="Undo the agent's latest rewind: everything it removed comes back",
                   request=None, responses=rs.RewindOut,
                   description="409 once the agent has gone on since (fork it instead), for a rewind a later one "
                               "came after, or one confirmed already.")
    def post(self, request: Request, agent_id: str, rewind_id: str) -> Response:
        rewind = rewind_undo(rewind=_rewind(request, agent_id, rewind_id), user=request.user)
        return Response(rs.rewind_out(rewind))


class AgentRewindConfirm(ApiView):
    @extend_schema(tags=TAG, summary="Keep a rewind: what it removed is deleted for good", request=None,
                   responses=rs.RewindOut)
    def post(self, request: Request, agent_id: str, rewind_id: str) -> Response:
        rewind = rewind_confirm(rewind=_rewind(request, agent_id, rewind_id))
        return Response(rs.rewind_out(rewind))
