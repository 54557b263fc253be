"""The context-window inspector and the traces of runs and steps."""

import json

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from agents.engine.context import TIERS
from agents.models import Step
from agents.selectors import agent_context, run_trees
from playground.views.access import owned_agent

TIER_NAMES = {
    "system_instructions": "System instructions", "tool_schemas": "Tool schemas", "core_memory": "Core memory",
    "memory_metadata": "Memory metadata", "summary": "Summary", "messages": "Messages",
    "completion_reserve": "Completion reserve",
}


def inspector_context(agent) -> dict:
    context = agent_context(agent=agent)
    tokens, window = context.tokens, context.tokens["context_window"]
    texts = dict(context.sections)
    texts["tool_schemas"] = json.dumps(context.tools, indent=2)
    texts["messages"] = json.dumps(context.messages[1 + (1 if texts["summary"] else 0):], indent=2, ensure_ascii=False)
    last = (Step.objects.filter(agent=agent, purpose=Step.Purpose.AGENT, error="", prompt_tokens__isnull=False)
            .defer("request", "response").order_by("-id").first())  # the counts, not the whole prompt
    tiers = [{"key": key, "name": TIER_NAMES[key], "tokens": tokens[key], "share": 100 * tokens[key] / window,
              "text": texts.get(key, ""), "last": last.tokens.get(key) if last else None}
             for key in (*TIERS, "completion_reserve")]
    used = tokens["prompt_total"] + tokens["completion_reserve"]
    return {
        "agent": agent, "tiers": tiers, "tokens": tokens, "window": window,
        "free": max(window - used, 0), "free_share": max(100 * (window - used) / window, 0),
        "warning_share": 100 * agent.warning_share, "flush_share": 100 * (window - tokens["completion_reserve"]) / window,
        "recall_count": context.recall_count, "archival_count": context.archival_count,
        "last_step": last, "gap": (last.prompt_tokens - last.tokens.get("prompt_total", 0)) if last else None,
    }


@login_required
@require_GET
def inspector_panel(request, agent_id: int):
    return render(request, "agents/detail.html#inspector", inspector_context(owned_agent(request, agent_id)))


@login_required
@require_GET
def traces_panel(request, agent_id: int):
    agent = owned_agent(request, agent_id)
    runs = Paginator(run_trees(agent.runs.order_by("-id")), 10).get_page(request.GET.get("page"))
    return render(request, "agents/detail.html#traces", {"agent": agent, "runs": runs})


def agent_step(request, agent_id: int, step_id: int) -> Step:
    return get_object_or_404(Step, pk=step_id, agent=owned_agent(request, agent_id))


def step_json(step: Step) -> dict:
    return {"id": step.pk, "run_id": step.run_id, "index": step.index, "purpose": step.purpose, "model": step.model,
            "request": step.request, "response": step.response, "tokens": step.tokens, "usage": step.usage,
            "latency_ms": step.latency_ms, "error": step.error, "created_at": step.created_at.isoformat()}


@login_required
@require_GET
def step_detail(request, agent_id: int, step_id: int):
    step = agent_step(request, agent_id, step_id)
    tiers = [{"name": TIER_NAMES[key], "tokens": step.tokens.get(key)} for key in (*TIERS, "completion_reserve")
             if key in step.tokens]
    return render(request, "agents/detail.html#step", {
        "agent": step.agent, "step": step, "tiers": tiers,
        "request_json": json.dumps(step.request, indent=2, ensure_ascii=False),
        "response_json": json.dumps(step.response, indent=2, ensure_ascii=False),
        "usage_json": json.dumps(step.usage, indent=2), "trace_json": json.dumps(step_json(step), ensure_ascii=False)})


@login_required
@require_GET
def step_download(request, agent_id: int, step_id: int):
    step = agent_step(request, agent_id, step_id)
    response = JsonResponse(step_json(step), json_dumps_params={"indent": 2, "ensure_ascii": False})
    response["Content-Disposition"] = f'attachment; filename="step-{step.pk}.json"'
    return response
