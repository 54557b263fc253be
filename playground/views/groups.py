"""Groups of agents: the list with its form, and a group's page, where a person's message goes to
the group and every agent's answer streams in (playground.consumers.GroupConsumer)."""

from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django_htmx.http import HttpResponseClientRedirect

from agents.engine import events
from agents.groups import group_create, group_delete, group_members, group_send, turn_runs
from agents.llm import LLMNotConfigured
from agents.models import RUN_UNFINISHED, Group, Run
from memory.models import Message
from memory.services import block_create
from playground.forms import GroupForm, MessageForm
from playground.presenters import chat_turns

TURNS_SHOWN = 20
PERSONS_TRIGGERS = (Run.Trigger.USER_MESSAGE, Run.Trigger.GROUP_MESSAGE)  # the person's message, shown once


def owned_group(request, group_id: int) -> Group:
    return get_object_or_404(Group.objects.select_related("manager"), pk=group_id, owner=request.user)


@login_required
@require_GET
def group_list(request):
    groups = Group.objects.filter(owner=request.user).select_related("manager").prefetch_related("memberships__agent")
    return render(request, "groups/list.html", {"groups": groups, "form": GroupForm(owner=request.user)})


@login_required
@require_POST
def group_new(request):
    form = GroupForm(request.POST, owner=request.user)
    if form.is_valid():
        data = form.cleaned_data
        shared = [block_create(owner=request.user, label=data["block_label"], value=data["block_value"])] \
            if data["block_label"] else []
        try:
            group = group_create(owner=request.user, kind=data["kind"], description=data["description"],
                                 members=list(data["members"]), manager=data["manager"], max_turns=data["max_turns"],
                                 shared_blocks=shared, sleeptime_frequency=data["sleeptime_frequency"],
                                 sleeptime_quiet_seconds=data["sleeptime_quiet_seconds"])
        except ValueError as error:
            for block in shared:
                block.delete()
            form.add_error(None, str(error))
        else:
            url = reverse("group", args=[group.pk])
            return HttpResponseClientRedirect(url) if request.htmx else redirect(url)
    return render(request, "groups/list.html#group-form", {"form": form}, status=422)


def group_history(group: Group) -> list[dict]:
    """The group's last conversations: each person's message, and each run it led to with what its agent did."""
    turns = list(group.turns.order_by("-id")[:TURNS_SHOWN])[::-1]
    history = []
    for turn in turns:
        runs = []
        for run in turn_runs(turn):
            messages = list(Message.objects.filter(run=run).order_by("id"))
            # bounded by these messages' run: the agent's failed runs elsewhere stay out
            items = [item for chat in chat_turns(messages, agent_id=run.agent_id, oldest=False, newest=False)
                     for item in chat.items if not (item[0].kind == "user_message" and run.trigger in PERSONS_TRIGGERS)]
            if run.error and not any(event.kind == "error" for event, _ in items):
                items.append((events.error(run_id=run.pk, message=run.error), None))
            runs.append({"run": run, "items": items})
        history.append({"turn": turn, "runs": runs})
    return history


@login_required
@require_GET
def group_page(request, group_id: int):
    group = owned_group(request, group_id)
    working = Run.objects.filter(group_turn__group=group, status__in=RUN_UNFINISHED).exists()
    return render(request, "groups/detail.html", {"group": group, "members": group_members(group),
                                                  "history": group_history(group), "form": MessageForm(),
                                                  "working": working})


@login_required
@require_POST
def group_message(request, group_id: int):
    group = owned_group(request, group_id)
    form = MessageForm(request.POST)
    if form.is_valid():
        try:
            turn = group_send(group=group, text=form.cleaned_data["text"])
        except (LLMNotConfigured, ValueError) as error:
            form.add_error("text", str(error))
        else:
            return render(request, "groups/detail.html#sent", {"group": group, "turn": turn, "form": MessageForm()})
    return render(request, "groups/detail.html#send-form", {"group": group, "form": form}, status=422)


@login_required
@require_POST
def group_remove(request, group_id: int):
    group = owned_group(request, group_id)
    group_delete(group=group)
    flash.success(request, "Deleted the group; its agents stay.")
    return redirect("groups")
