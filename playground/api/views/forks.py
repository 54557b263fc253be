"""/v1/agents/{id}/fork and /v1/agents/{id}/continue: an agent forked just before one of its steps,
and that step made again (agents/history/fork.py)."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from agents.history.fork import agent_fork
from agents.models import Step
from agents.selectors import agent_for_owner
from agents.services import turn_continue
from playground.api import serializers as s
from playground.api.serializers.forks import ForkIn
from playground.api.ids import from_id
from playground.api.views.agents import agent_out
from playground.api.views.base import ApiView, body

TAG = ["time travel"]


class AgentFork(ApiView):
    @extend_schema(tags=TAG, summary="Fork the agent just before one of its steps", request=ForkIn,
                   responses={201: s.AgentOut},
                   description="A new agent of the same owner whose core memory (copied), in-context messages, "
                               "summary, recall memory, archival passages, settings and tools are as they were just "
                               "before the step. Its next turn can be that step made again "
                               "(POST /v1/agents/{fork}/continue), or a new message.")
    def post(self, request: Request, agent_id: str) -> Response:
        agent = agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id))
        data = body(request, ForkIn)
        step = Step.objects.get(pk=from_id("step", data["step_id"]), agent=agent)
        fork = agent_fork(step=step, name=data.get("name", ""))
        return Response(agent_out(request.user, fork.pk), status=status.HTTP_201_CREATED)


class AgentContinue(ApiView):
    @extend_schema(tags=TAG, summary="Make the pending step of a forked or rewound agent again", request=None,
                   responses={202: s.RunOut},
                   description="Queues a turn with no new event: the step the agent was forked or rewound to just "
                               "before. Read it with /v1/runs/{run_id}/stream. 400 when the agent has no pending "
                               "step.")
    def post(self, request: Request, agent_id: str) -> Response:
        agent = agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id))
        run = turn_continue(agent=agent)
        return Response(s.RunOut(run).data, status=status.HTTP_202_ACCEPTED)
