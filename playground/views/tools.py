"""Tools in the browser: the built-in ones (read-only) and a person's own Python functions, written in
an editor with a live schema preview and tried out from a form made from their schema; and on the
agent page, an agent's tool set and tool rules."""

import json

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from agents.models import Tool
from agents.selectors import tools_usable_by
from agents.services import agent_update, tool_attach, tool_create, tool_delete, tool_detach, tool_run, tool_update
from agents.tools.schema import ToolSourceError, tool_parse, tool_schema
from playground.forms import ToolForm, ToolRuleForm, ToolRunForm, id_param
from playground.views.access import owned_agent


def visible_tool(request, tool_id: int) -> Tool:
    """A built-in tool or one of the user's own; 404 for anyone else's."""
    return get_object_or_404(tools_usable_by(request.user), pk=tool_id)


def own_tool(request, tool_id: int) -> Tool:
    """A tool the user may change: 403 for a built-in one (everyone sees it), 404 for anyone else's."""
    tool = visible_tool(request, tool_id)
    if tool.kind == Tool.Kind.BUILTIN:
        raise PermissionDenied(f"{tool.name} is a built-in tool: it cannot be changed")
    return tool


def _schema_json(tool: Tool) -> str:
    return json.dumps(tool.json_schema, indent=2, ensure_ascii=False)


@login_required
@require_GET
def tool_list(request):
    tools = tools_usable_by(request.user).prefetch_related("agents")
    builtin = [(t, _schema_json(t)) for t in tools if t.kind == Tool.Kind.BUILTIN]
    return render(request, "tools/list.html", {"builtin": builtin, "own": [t for t in tools if t.kind != Tool.Kind.BUILTIN]})


def preview_context(source: str, description: str = "") -> dict:
    """The schema the model would be sent for `source`, or why there is none (with its line)."""
    try:
        schema = tool_schema(tool_parse(source))
    except ToolSourceError as error:
        return {"preview_error": error}
    if description.strip():
        schema["function"]["description"] = description.strip()
    return {"preview_json": json.dumps(schema, indent=2, ensure_ascii=False)}


def _tool_page(request, tool, form, *, status=200, saved=False):
    run_form = ToolRunForm(tool=tool, agents=request.user.agents.order_by("name")) if tool else None
    preview = preview_context(form["source_code"].value() or "", form["description"].value() or "") if form else {}
    template = "tools/detail.html#tool" if request.htmx else "tools/detail.html"
    return render(request, template, {"tool": tool, "form": form, "run_form": run_form, "saved": saved,
                                      "schema_json": _schema_json(tool) if tool else "", **preview}, status=status)


def _save(form: ToolForm, save) -> Tool | None:
    """The tool saved by `save`, or None with the reason on the form: bad source (with its line) or a taken name."""
    try:
        return save(**form.service_fields())
    except ToolSourceError as error:
        form.add_error("source_code", str(error))
    except IntegrityError:
        form.add_error("source_code", f"You have a tool named {tool_parse(form.cleaned_data['source_code']).name} "
                                      "already: rename the function.")
    return None


@login_required
@require_http_methods(["GET", "POST"])
def tool_new(request):
    form = ToolForm(request.POST or None)
    if request.method == "GET" or not form.is_valid():
        return _tool_page(request, None, form, status=422 if form.errors else 200)
    tool = _save(form, lambda **fields: tool_create(owner=request.user, **fields))
    if tool is None:
        return _tool_page(request, None, form, status=422)
    url = reverse("tool", args=[tool.pk])
    return HttpResponseClientRedirect(url) if request.htmx else redirect(url)


@login_required
@require_http_methods(["GET", "POST"])
def tool_page(request, tool_id: int):
    if request.method == "GET":
        tool = visible_tool(request, tool_id)
        return _tool_page(request, tool, ToolForm.of(tool) if tool.kind == Tool.Kind.CUSTOM else None)
    tool = own_tool(request, tool_id)
    form = ToolForm(request.POST)
    saved = form.is_valid() and _save(form, lambda **fields: tool_update(tool=tool, **fields))
    if not saved:
        tool.refresh_from_db()  # tool_update may have set fields before the save failed
    return _tool_page(request, tool, form, saved=bool(saved), status=200 if saved else 422)


@login_required
@require_POST
def tool_preview(request):
    """The schema preview, regenerated as the source is typed."""
    context = preview_context(request.POST.get("source_code", ""), request.POST.get("description", ""))
    return render(request, "tools/detail.html#preview", context)


@login_required
@require_POST
def tool_remove(request, tool_id: int):
    tool_delete(tool=own_tool(request, tool_id))
    return HttpResponseClientRedirect(reverse("tools")) if request.htmx else redirect("tools")


@login_required
@require_POST
def tool_run_page(request, tool_id: int):
    """Run the tool in the sandbox, as an agent's call would: within the request, since the sandbox
    stops a call after its wall-clock limit (10 s)."""
    tool = own_tool(request, tool_id)
    form = ToolRunForm(request.POST, tool=tool, agents=request.user.agents.all())
    if not form.is_valid():
        return render(request, "tools/detail.html#run-form", {"tool": tool, "run_form": form}, status=422)
    try:
        result = tool_run(tool=tool, arguments=form.arguments(), agent=form.cleaned_data.get("agent_state"))
    except ValueError as error:
        form.add_error(None, str(error))
        return render(request, "tools/detail.html#run-form", {"tool": tool, "run_form": form}, status=422)
    return render(request, "tools/detail.html#run-form", {
        "tool": tool, "run_form": form, "result": result, "arguments": json.dumps(form.arguments(), ensure_ascii=False),
        "value_json": json.dumps(result.value, indent=2, ensure_ascii=False, default=repr)})


# --- an agent's tools and tool rules (the Tools tab of the agent page) ---------------------------


def tools_context(agent, rule_form=None, **extra) -> dict:
    tools = list(agent.tools.order_by("kind", "name"))
    names = [t.name for t in tools]
    attachable = (tools_usable_by(agent.owner).exclude(pk__in=[t.pk for t in tools])
                  .exclude(name__in=names))
    return {"agent": agent, "agent_tools": tools, "attachable": attachable, "rules": agent.tool_rules,
            "rule_form": rule_form or ToolRuleForm(tool_names=names), **extra}


def _tools_panel(request, agent, status=200, **extra):
    return render(request, "agents/detail.html#tools", tools_context(agent, **extra), status=status)


@login_required
@require_GET
def agent_tools(request, agent_id: int):
    return _tools_panel(request, owned_agent(request, agent_id))


@login_required
@require_POST
def agent_tool_change(request, agent_id: int, action: str):
    """Attach a tool (a built-in one or the user's own) or detach one; the services' refusals show in place."""
    agent = owned_agent(request, agent_id)
    tool = visible_tool(request, id_param(request.POST.get("tool"), "tool"))
    change = {"attach": tool_attach, "detach": tool_detach}.get(action)
    if change is None:
        raise Http404("No such action")
    try:
        change(agent=agent, tool=tool)
    except (PermissionError, ValueError) as error:
        return _tools_panel(request, agent, status=422, tools_error=str(error))
    return _tools_panel(request, agent)


@login_required
@require_POST
def agent_rule_add(request, agent_id: int):
    agent = owned_agent(request, agent_id)
    form = ToolRuleForm(request.POST, tool_names=list(agent.tools.values_list("name", flat=True)))
    if form.is_valid():
        try:
            agent_update(agent=agent, tool_rules=[*agent.tool_rules, form.rule()])
        except ValueError as error:
            form.add_error(None, str(error))
    if form.errors:
        agent.refresh_from_db()
        return _tools_panel(request, agent, status=422, rule_form=form)
    return _tools_panel(request, agent)


@login_required
@require_POST
def agent_rule_remove(request, agent_id: int, index: int):
    agent = owned_agent(request, agent_id)
    if index >= len(agent.tool_rules):
        return _tools_panel(request, agent, status=422, tools_error="That rule is gone already.")
    agent_update(agent=agent, tool_rules=agent.tool_rules[:index] + agent.tool_rules[index + 1:])
    return _tools_panel(request, agent)
