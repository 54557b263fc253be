"""The agents list and the agent page with its chat; agent files (.af) exported and imported."""

import json

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.db.models import F, Func, IntegerField, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django_htmx.http import HttpResponseClientRedirect
from django.utils.http import content_disposition_header
from django.utils.text import slugify
from rest_framework.exceptions import ValidationError as FileInvalid
from django.views.decorators.http import require_GET, require_POST

from agents.agent_file import agent_file_export, agent_file_import, agent_file_read
from agents.history.rewind import rewind_latest_pending
from agents.llm import LLMNotConfigured
from agents.models import RUN_UNFINISHED, Run
from agents.services import agent_create, agent_delete, agent_duplicate, exchange_undo, messages_reset, turn_enqueue
from agents.services import model_check_enqueue, model_check_result
from memory.errors import ProviderError
from memory.models import Document, Message, Passage
from playground.api.errors import error_lines
from playground.forms import AgentCreateForm, AgentFileForm, MessageForm, id_param
from playground.middleware import accepts_uploads
from playground.presenters import chat_turns
from playground.views.access import owned_agent
from playground.views.memory import memory_context

HISTORY_PAGE = 60


def _count(rows: QuerySet) -> Coalesce:
    """COUNT(*) of `rows` in a subquery per agent: two relations counted over one join make
    messages x passages rows per agent."""
    return Coalesce(Subquery(rows.order_by().annotate(n=Func(F("pk"), function="COUNT", output_field=IntegerField()))
                             .values("n")), 0)


@login_required
@require_GET
def agent_list(request):
    # as the agent's memory metadata counts them (memory.selectors.memory_counts): recall memory
    # without summaries; archival memory with the passages of the finished documents of its sources
    agent = OuterRef("pk")
    documents = Passage.objects.filter(document__source__agents=agent, document__status=Document.Status.DONE)
    agents = request.user.agents.annotate(
        message_count=_count(Message.objects.filter(agent=agent).exclude(kind=Message.Kind.SUMMARY)),
        passage_count=_count(Passage.objects.filter(agent=agent)) + _count(documents.exclude(agent=agent)),
    ).order_by("-created_at")
    agents, tag = list(agents), request.GET.get("tag", "")
    tags = sorted({name for agent in agents for name in agent.tags})  # every tag, whichever one is chosen
    if tag:
        agents = [agent for agent in agents if tag in agent.tags]
    form = AgentCreateForm(owner=request.user)
    return render(request, "agents/list.html", {"agents": agents, "form": form, "tag": tag, "tags": tags})


@login_required
@require_POST
def agent_new(request):
    form = AgentCreateForm(request.POST, owner=request.user)
    if form.is_valid():
        try:
            agent = agent_create(owner=request.user, name=form.cleaned_data["name"], persona=form.template_text("persona"),
                                 human=form.template_text("human"), model=form.cleaned_data["model"],
                                 context_window=form.cleaned_data["context_window"])
        except ValueError as error:
            form.add_error("context_window", str(error))
        else:
            return HttpResponseClientRedirect(reverse("agent", args=[agent.pk])) if request.htmx else redirect("agent", agent_id=agent.pk)
    return render(request, "agents/list.html#create-form", {"form": form}, status=422)


@login_required
@require_POST
def agent_remove(request, agent_id: int):
    agent = owned_agent(request, agent_id)
    agent_delete(agent=agent)
    flash.success(request, f"Deleted {agent.name}.")
    return redirect("home")


@login_required
@require_POST
def agent_copy(request, agent_id: int):
    copy = agent_duplicate(agent=owned_agent(request, agent_id))
    return redirect("agent", agent_id=copy.pk)


@login_required
@require_GET
def agent_page(request, agent_id: int):
    agent = owned_agent(request, agent_id)
    history = list(Message.objects.filter(agent=agent).order_by("-id")[:HISTORY_PAGE])[::-1]
    working = agent.runs.filter(status__in=RUN_UNFINISHED).exists()
    return render(request, "agents/detail.html", {
        **memory_context(agent), "turns": chat_turns(history, agent_id=agent.pk, oldest=len(history) < HISTORY_PAGE),
        "older": len(history) == HISTORY_PAGE and history[0].pk,
        "form": MessageForm(), "working": working, "rewind": rewind_latest_pending(agent=agent),
    })


@login_required
@require_GET
def agent_history(request, agent_id: int):
    """Older messages, loaded when the top of the chat scrolls into view."""
    agent = owned_agent(request, agent_id)
    before = id_param(request.GET.get("before"), "before")
    page = list(Message.objects.filter(agent=agent, pk__lt=before).order_by("-id")[:HISTORY_PAGE])[::-1]
    return render(request, "agents/detail.html#history", {
        "agent": agent, "turns": chat_turns(page, agent_id=agent.pk, oldest=len(page) < HISTORY_PAGE, newest=False),
        "older": len(page) == HISTORY_PAGE and page[0].pk})


@login_required
@require_POST
def agent_send(request, agent_id: int):
    agent = owned_agent(request, agent_id)
    form = MessageForm(request.POST)
    if not form.is_valid():
        return render(request, "agents/detail.html#send-form", {"agent": agent, "form": form}, status=422)
    try:
        run = turn_enqueue(agent=agent, text=form.cleaned_data["text"])
    except (LLMNotConfigured, ValueError) as error:  # ValueError: too long for the agent's context window
        form.add_error("text", str(error))
        return render(request, "agents/detail.html#send-form", {"agent": agent, "form": form}, status=422)
    return render(request, "agents/detail.html#sent", {"agent": agent, "form": MessageForm(), "run": run,
                                                        "text": form.cleaned_data["text"]})


ACTIONS = {"heartbeat": Run.Trigger.HEARTBEAT, "memory_warning": Run.Trigger.MEMORY_WARNING}


@login_required
@require_POST
def agent_action(request, agent_id: int, action: str):
    """The original CLI's commands: /heartbeat, /memorywarning, /pop, and a reset of the conversation."""
    agent = owned_agent(request, agent_id)
    if action in ACTIONS:
        try:
            turn_enqueue(agent=agent, trigger=ACTIONS[action])
        except LLMNotConfigured as error:
            return render(request, "agents/detail.html#notice", {"notice": str(error), "error": True})
        return HttpResponse(status=204)
    if action == "undo":
        exchange_undo(agent=agent)
    elif action == "reset":
        messages_reset(agent=agent)
    else:
        raise Http404("No such action")
    response = HttpResponse(status=204)
    response["HX-Refresh"] = "true"  # the chat shows what is left
    return response


@login_required
@require_GET
def agent_export(request, agent_id: int):
    """The agent as an agent file (.af): what GET /v1/agents/{id}/export answers, as a download."""
    agent = owned_agent(request, agent_id)
    response = HttpResponse(json.dumps(agent_file_export(agent=agent), indent=2, ensure_ascii=False),
                            content_type="application/json")
    response["Content-Disposition"] = content_disposition_header(True, f"{slugify(agent.name) or 'agent'}-{agent.pk}.af")
    return response


@accepts_uploads
@login_required
def agent_import(request):
    """Upload an agent file; the new agent's page on success, the form with what is wrong otherwise."""
    form = AgentFileForm(request.POST, request.FILES) if request.method == "POST" else AgentFileForm()
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            agents = agent_file_import(owner=request.user, **agent_file_read(
                data["file"], name=data["name"] or None, strip_messages=data["strip_messages"]))
        except FileInvalid as error:  # what the file says does not make an agent
            form.add_error("file", error_lines(error.detail))
        except (ValueError, ProviderError) as error:  # a custom tool's source, a block label; the embedding server
            form.add_error("file", str(getattr(error, "message", None) or error))
        else:
            return redirect("agent", agent_id=agents[0].pk)
    return render(request, "agents/import.html", {"form": form}, status=422 if form.errors else 200)


@login_required
@require_POST
def agent_check_model(request, agent_id: int):
    """Check the agent's model (agents/llm/check.py) on a worker; the fragment polls for the report."""
    agent = owned_agent(request, agent_id)
    check_id = model_check_enqueue(agent=agent)
    return render(request, "agents/detail.html#model-check", {"agent": agent, "check_id": check_id,
                                                              "check": {"status": "running"}})


@login_required
@require_GET
def agent_model_check(request, agent_id: int, check_id: str):
    agent = owned_agent(request, agent_id)
    check = model_check_result(agent=agent, check_id=check_id)
    if check is None:
        raise Http404("No such model check (reports are kept an hour)")
    return render(request, "agents/detail.html#model-check", {"agent": agent, "check_id": check_id, "check": check})
