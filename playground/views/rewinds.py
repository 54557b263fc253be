"""Rewinding an agent to just before one of its steps: the page that lists what goes, and the undo or
confirmation of the rewind from the agent page's banner (agents/history/rewind.py)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from agents.errors import HistoryMissing, RewindRefused
from agents.history.rewind import agent_rewind, rewind_confirm, rewind_preview, rewind_undo
from agents.models import Step
from playground.views.access import owned_agent


def _to_agent(request, agent_id: int):
    """Back to the agent page: a whole page for htmx too (the chat, memory and banner all changed)."""
    url = reverse("agent", args=[agent_id])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


def _notice(request, agent, error: Exception, status: int):
    return render(request, "agents/detail.html#notice", {"agent": agent, "notice": str(error), "error": True},
                  status=status)


@login_required
@require_http_methods(["GET", "POST"])
def agent_rewind_page(request, agent_id: int, step_id: int):
    """GET: what a rewind to just before the step removes; POST: rewind, then the agent page."""
    agent = owned_agent(request, agent_id)
    step = get_object_or_404(Step, pk=step_id, agent=agent)
    try:
        if request.method == "POST":
            agent_rewind(agent=agent, step=step, user=request.user)
            return _to_agent(request, agent.pk)
        preview = rewind_preview(agent=agent, step=step)
    except (HistoryMissing, RewindRefused) as error:
        if request.htmx:  # htmx swaps no 4xx: the notice comes with 200 and swaps itself in
            return _notice(request, agent, error, 200)
        return render(request, "agents/rewind.html", {"agent": agent, "step": step, "error": str(error)},
                      status=409 if request.method == "POST" else 200)
    return render(request, "agents/rewind.html", {"agent": agent, "step": step, "preview": preview})


@login_required
@require_POST
def rewind_undo_view(request, agent_id: int, rewind_id: int):
    agent = owned_agent(request, agent_id)
    rewind = get_object_or_404(agent.rewinds, pk=rewind_id)
    try:
        rewind_undo(rewind=rewind, user=request.user)
    except RewindRefused as error:
        return _notice(request, agent, error, 200 if request.htmx else 409)
    return _to_agent(request, agent.pk)


@login_required
@require_POST
def rewind_confirm_view(request, agent_id: int, rewind_id: int):
    agent = owned_agent(request, agent_id)
    rewind = get_object_or_404(agent.rewinds, pk=rewind_id)
    try:
        rewind_confirm(rewind=rewind)
    except RewindRefused as error:
        return _notice(request, agent, error, 200 if request.htmx else 409)
    return _to_agent(request, agent.pk)
