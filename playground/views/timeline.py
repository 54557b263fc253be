"""The agent page's Timeline tab, and going back in it: a fork before a step, and the pending step
of a forked or rewound agent made again (agents/history)."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from agents.errors import HistoryMissing, NothingPending
from agents.history.fork import agent_fork
from agents.history.timeline import agent_timeline
from agents.llm import LLMNotConfigured
from agents.models import Step
from agents.services import turn_continue
from playground.forms import id_param
from playground.views.access import owned_agent


@login_required
@require_GET
def timeline_panel(request, agent_id: int):
    agent = owned_agent(request, agent_id)
    page = id_param(request.GET.get("page") or "1", "page")
    return render(request, "agents/detail.html#timeline", {"agent": agent, "timeline": agent_timeline(agent=agent, page=page)})


@login_required
@require_POST
def step_fork(request, agent_id: int, step_id: int):
    step = get_object_or_404(Step, pk=step_id, agent=owned_agent(request, agent_id))
    try:
        fork = agent_fork(step=step)
    except HistoryMissing as error:
        return render(request, "agents/detail.html#notice", {"notice": str(error), "error": True})
    return HttpResponseClientRedirect(reverse("agent", args=[fork.pk]))


@login_required
@require_POST
def agent_continue(request, agent_id: int):
    agent = owned_agent(request, agent_id)
    try:
        turn_continue(agent=agent)
    except (NothingPending, LLMNotConfigured) as error:
        return render(request, "agents/detail.html#notice", {"notice": str(error), "error": True})
    return HttpResponse("")  # the banner goes; the step shows in the chat as it runs
