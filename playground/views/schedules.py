"""An agent's wake-ups in the browser (the Schedule tab of the agent page): what is scheduled, made by
whom, when it comes next; a form to schedule a message or a heartbeat; Cancel."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.views.decorators.http import require_http_methods, require_POST

from agents.engine.types import ScheduleRefused
from agents.models import ScheduledMessage
from agents.schedules import schedule_cancel, schedule_create, schedule_for_agent, schedule_when, schedules_active
from playground.forms import ScheduleForm
from playground.views.access import owned_agent


def _panel(request, agent, form: ScheduleForm, *, status: int = 200):
    schedules = schedules_active(agent=agent).select_related("created_by", "created_by_step")
    rows = [(schedule, schedule_when(schedule)) for schedule in schedules]
    return render(request, "agents/detail.html#schedules", {"agent": agent, "schedules": rows, "schedule_form": form},
                  status=status)


@login_required
@require_http_methods(["GET", "POST"])
def agent_schedules(request, agent_id: int):
    agent = owned_agent(request, agent_id)
    if request.method == "GET":
        return _panel(request, agent, ScheduleForm())
    form = ScheduleForm(request.POST)
    if not form.is_valid():
        return _panel(request, agent, form, status=422)
    try:
        schedule_create(agent=agent, user=request.user, **form.service_fields())
    except ScheduleRefused as refused:
        form.add_error(None, f"Not scheduled: {refused}.")
        return _panel(request, agent, form, status=422)
    return _panel(request, agent, ScheduleForm())


@login_required
@require_POST
def agent_schedule_cancel(request, agent_id: int, schedule_id: int):
    agent = owned_agent(request, agent_id)
    try:
        schedule_cancel(schedule=schedule_for_agent(agent=agent, schedule_id=schedule_id))
    except ScheduledMessage.DoesNotExist:
        pass  # fired or cancelled meanwhile: the list shows what is left
    return _panel(request, agent, ScheduleForm())
