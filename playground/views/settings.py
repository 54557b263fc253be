"""An agent's settings (the Settings tab of the agent page): model, window, prompt, limits, thresholds."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_http_methods

from agents.services import agent_update
from playground.forms import AgentSettingsForm
from playground.views.access import owned_agent


@login_required
@require_http_methods(["GET", "POST"])
def agent_settings(request, agent_id: int):
    agent = owned_agent(request, agent_id)
    form = AgentSettingsForm.of(agent, request.POST if request.method == "POST" else None)
    if request.method == "GET" or not form.is_valid():
        return render(request, "agents/detail.html#settings", {"agent": agent, "settings_form": form},
                      status=422 if form.errors else 200)
    try:
        agent_update(agent=agent, **form.changes())
    except ValueError as error:  # settings that cannot work together, in the service's words
        form.add_error(None, str(error))
        agent.refresh_from_db()
        return render(request, "agents/detail.html#settings", {"agent": agent, "settings_form": form}, status=422)
    return render(request, "agents/detail.html#settings-saved", {"agent": agent, "settings_form": AgentSettingsForm.of(agent),
                                                                 "saved": True})
