"""/v1/agents/{agent_id}/schedule: an agent's scheduled messages (wake-ups, agents/schedules.py), as the
Letta SDK's `agents.schedule` creates, lists, retrieves and deletes them. Another user's agent, and a
wake-up that has fired (a one-time one) or was deleted, is not found (404)."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from agents.models import ScheduledMessage
from agents.schedules import schedule_cancel, schedule_create, schedule_for_agent, schedules_active
from agents.selectors import agent_for_owner
from playground.api import letta
from playground.api.ids import from_id, to_id
from playground.api.serializers import schedules as ss
from playground.api.views.base import ApiView, DEFAULT_LIMIT, _cursor, body, query

TAG = ["schedules"]


def _agent(request: Request, agent_id: str):
    return agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id))


class AgentSchedules(ApiView):
    @extend_schema(tags=TAG, operation_id="schedule_agent_message",
                   summary="Schedule a message to the agent, once or on a recurring schedule",
                   request=ss.ScheduleCreate, responses={201: ss.ScheduleCreateOut})
    def post(self, request: Request, agent_id: str) -> Response:
        agent = _agent(request, agent_id)
        fields = body(request, ss.ScheduleCreate)
        schedule = schedule_create(agent=agent, kind=ScheduledMessage.Kind.MESSAGE, user=request.user, **fields)
        return Response({"id": to_id("schedule", schedule.pk), "next_scheduled_at": letta.moment(schedule.next_run_at)},
                        status=status.HTTP_201_CREATED)

    @extend_schema(tags=TAG, operation_id="list_scheduled_agent_messages",
                   summary="The agent's scheduled messages still to come, in the order they were made",
                   parameters=[ss.ScheduleListQuery], responses=ss.ScheduleListOut)
    def get(self, request: Request, agent_id: str) -> Response:
        agent = _agent(request, agent_id)
        params = query(request, ss.ScheduleListQuery)
        schedules = schedules_active(agent=agent)
        if (after := _cursor("schedule", params.get("after"), "after")) is not None:
            schedules = schedules.filter(pk__gt=after)
        limit = params.get("limit") or DEFAULT_LIMIT
        rows = list(schedules[:limit + 1])
        return Response({"has_next_page": len(rows) > limit,
                         "scheduled_messages": [ss.scheduled_message(row) for row in rows[:limit]]})


class AgentSchedule(ApiView):
    @extend_schema(tags=TAG, operation_id="retrieve_scheduled_agent_message", summary="One scheduled message",
                   responses=ss.ScheduledMessageOut)
    def get(self, request: Request, agent_id: str, scheduled_message_id: str) -> Response:
        schedule = schedule_for_agent(agent=_agent(request, agent_id),
                                      schedule_id=from_id("schedule", scheduled_message_id))
        return Response(ss.scheduled_message(schedule))

    @extend_schema(tags=TAG, operation_id="delete_scheduled_agent_message", summary="Delete (cancel) a scheduled message",
                   responses=ss.ScheduleDeleteOut)
    def delete(self, request: Request, agent_id: str, scheduled_message_id: str) -> Response:
        schedule = schedule_for_agent(agent=_agent(request, agent_id),
                                      schedule_id=from_id("schedule", scheduled_message_id))
        schedule_cancel(schedule=schedule)
        return Response({"success": True})
