"""A run pinned as a scenario file, downloaded from the timeline (agents/history/scenarios.py)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from agents.errors import HistoryMissing, ScenarioUnavailable
from agents.history.scenarios import dumps, scenario_export
from agents.models import Run
from playground.views.access import owned_agent


@login_required
@require_GET
def run_scenario(request, agent_id: int, run_id: int):
    run = get_object_or_404(Run, pk=run_id, agent=owned_agent(request, agent_id))
    try:
        scenario = scenario_export(run=run)
    except (ScenarioUnavailable, HistoryMissing) as error:
        # a link, not an htmx request: the browser shows this text as it is (plain text, nothing to escape)
        return HttpResponse(str(error), status=409, content_type="text/plain; charset=utf-8")
    response = HttpResponse(dumps(scenario), content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="scenario-run-{run.pk}.json"'
    return response
