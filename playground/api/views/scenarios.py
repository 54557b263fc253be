"""/v1/runs/{run_id}/scenario: a finished run pinned as a scenario file (agents/history/scenarios.py),
which `manage.py replay_scenario FILE` runs again against the scripted model server."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from agents.history.scenarios import scenario_export
from playground.api.ids import from_id
from playground.api.selectors import run_get
from playground.api.views.base import ApiView

ScenarioOut = inline_serializer("ScenarioOut", {
    "format": serializers.CharField(help_text='always "memgpt-playground-scenario"'),
    "version": serializers.IntegerField(),
    "name": serializers.CharField(),
    "pinned_from": serializers.JSONField(help_text="{agent, run_id, steps}"),
    "agent": serializers.JSONField(help_text="the agent just before the run: settings, blocks, tools, recall "
                                             "messages, archival passages"),
    "input": serializers.JSONField(help_text="{trigger, text}"),
    "responses": serializers.ListField(child=serializers.JSONField(), help_text="the model's answers, in order"),
    "expect": serializers.JSONField(help_text="{tool_calls, messages, blocks, passages_added, stop_reason, status}"),
})


class RunScenario(ApiView):
    @extend_schema(tags=["time travel"], summary="Pin a finished run as a scenario file", responses={200: ScenarioOut},
                   description="The agent's state just before the run, its input, the model's answers as recorded "
                               "and what the turn did. `manage.py replay_scenario FILE` replays it against the "
                               "current code and names every difference. 400 for a run not finished, one whose "
                               "steps keep no state, or one started by another agent or a `continue`.")
    def get(self, request: Request, run_id: str) -> Response:
        return Response(scenario_export(run=run_get(request.user, from_id("run", run_id))))
