"""A step's replays: the form that sends its request again with changes, and each replay's answer beside
the stored one (agents/history/replay.py)."""

import json
from datetime import timedelta

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from agents.errors import ReplayRefused
from agents.history.differences import tool_names
from agents.history.replay import replay_comparison, replay_enqueue, step_handle, step_protocol
from agents.llm.catalog import model_catalog
from agents.models import Step, StepReplay
from agents.selectors import tools_usable_by
from playground.views.access import owned_agent
from playground.views.inspect import agent_step

BLOCK_PREFIX = "block:"
FINISHED = (StepReplay.Status.DONE, StepReplay.Status.FAILED)


def _text(value: str) -> str:
    return value.replace("\r\n", "\n")  # browsers send a textarea's lines with CRLF


class ReplayForm(forms.Form):
    """Prefilled with the step as it was sent; `changes()` is what differs from it."""

    model = forms.CharField(max_length=200, required=False,
                            help_text='A model handle, "<server>/<model>"; blank: the step\'s.')
    temperature = forms.FloatField(min_value=0.0, max_value=2.0, required=False)
    system = forms.CharField(widget=forms.Textarea(attrs={"rows": 8}), required=False, strip=False,
                             max_length=100_000, label="System prompt (base instructions)")
    tools = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple)

    def __init__(self, data=None, *, step: Step) -> None:
        self.step, state = step, step.state or {}
        self.stored = {"model": step_handle(step), "temperature": (step.request or {}).get("temperature"),
                       "system": state.get("system"), "tools": _tools_sent(step),
                       "blocks": {b["label"]: b["value"] for b in state.get("blocks") or []}}
        initial = {"model": self.stored["model"], "temperature": self.stored["temperature"],
                   "system": self.stored["system"], "tools": self.stored["tools"],
                   **{BLOCK_PREFIX + label: value for label, value in self.stored["blocks"].items()}}
        super().__init__(data, initial=initial)
        offered = list(dict.fromkeys([*self.stored["tools"], *tools_usable_by(step.agent.owner)
                                      .order_by("kind", "name").values_list("name", flat=True)]))
        self.fields["tools"].choices = [(name, name) for name in offered]
        self.fields["model"].widget.attrs.update(placeholder=step.model or "the default model",
                                                 list="replay-models")
        self.keeps_state = "system" in state and step.purpose == Step.Purpose.AGENT
        if not self.keeps_state:  # its system message cannot be rebuilt (agents.history.replay.NO_STATE)
            del self.fields["system"]
        for label in self.stored["blocks"] if self.keeps_state else ():
            self.fields[BLOCK_PREFIX + label] = forms.CharField(
                widget=forms.Textarea(attrs={"rows": 3}), required=False, strip=False, label=label)

    def block_fields(self) -> list:
        return [self[name] for name in self.fields if name.startswith(BLOCK_PREFIX)]

    def changes(self) -> dict:
        data, stored, changes = self.cleaned_data, self.stored, {}
        if data["model"].strip() and data["model"].strip() != stored["model"]:
            changes["model"] = data["model"].strip()
        if data["temperature"] is not None and data["temperature"] != stored["temperature"]:
            changes["temperature"] = data["temperature"]
        if "system" in data and _text(data["system"]) != stored["system"]:
            changes["system"] = _text(data["system"])
        blocks = {name[len(BLOCK_PREFIX):]: _text(value) for name, value in data.items()
                  if name.startswith(BLOCK_PREFIX)}
        if changed := {label: value for label, value in blocks.items() if value != stored["blocks"].get(label)}:
            changes["blocks"] = changed
        if set(data["tools"]) != set(stored["tools"]):
            changes["tools"] = list(data["tools"])
        return changes


def _tools_sent(step: Step) -> list[str]:
    """The names of the tools the step offered."""
    if step_protocol(step) == "json":
        return list((step.state or {}).get("tools") or [])
    return tool_names((step.request or {}).get("tools"))


def change_lines(changes: dict, step: Step) -> list[str]:
    """What a replay changed, one short line each; a tool set as the tools it took away and added."""
    lines = [f"model {changes['model']}"] if "model" in changes else []
    lines += [f"temperature {changes['temperature']}"] if "temperature" in changes else []
    lines += ["system prompt"] if "system" in changes else []
    lines += [f"block {label}" for label in changes.get("blocks") or {}]
    if "tools" in changes:
        sent, wanted = _tools_sent(step), changes["tools"]
        edits = [f"−{n}" for n in sent if n not in wanted] + [f"+{n}" for n in wanted if n not in sent]
        lines.append("no tools" if not wanted else f"tools {' '.join(edits) or 'reordered'}")
    return lines or ["nothing: the same request again"]


def _delta(stored, new):
    return new - stored if isinstance(stored, (int, float)) and isinstance(new, (int, float)) else None


def replay_view(replay: StepReplay) -> dict:
    """A replay as its fragment shows it: the comparison once it finished, with JSON values as text and
    token counts side by side with their difference."""
    finished = replay.status in FINISHED
    stalled = not finished and timezone.now() - replay.created_at > timedelta(seconds=2 * settings.LLM_TIMEOUT + 120)
    view = {"replay": replay, "changes": change_lines(replay.changes, replay.step), "finished": finished,
            "stalled": stalled}
    if not finished:
        return view
    comparison = replay_comparison(replay=replay)
    for call in comparison["tool_calls_diff"]:
        for row in call["arguments"]:
            row["stored_text"] = json.dumps(row["stored"], ensure_ascii=False)
            row["new_text"] = json.dumps(row["new"], ensure_ascii=False)
    tokens = comparison["tokens"]
    names = {"prompt": "Prompt tokens (provider)", "completion": "Completion tokens (provider)",
             "ours": "Prompt tokens (our count)"}
    rows = [{"name": name, **tokens[key], "delta": _delta(tokens[key]["stored"], tokens[key]["new"])}
            for key, name in names.items()]
    latency = comparison["latency_ms"]
    rows.append({"name": "Latency (ms)", "stored": _round(latency["stored"]), "new": _round(latency["new"]),
                 "delta": _round(_delta(latency["stored"], latency["new"]))})
    return {**view, "comparison": comparison, "token_rows": rows}


def _round(value):
    return round(value) if isinstance(value, float) else value


def _page(request, step: Step, form: ReplayForm):
    replays = [replay_view(r) for r in step.replays.order_by("-id")]
    models = [m.handle for m in model_catalog(owner=request.user).models]  # offered as the model field's choices
    return render(request, "agents/replays.html", {"agent": step.agent, "step": step, "form": form,
                                                   "replays": replays, "models": models})


@login_required
@require_http_methods(["GET", "POST"])
def step_replays(request, agent_id: int, step_id: int):
    """GET: the form and the step's replays. POST: queue a replay; the htmx form gets itself back, with the new
    replay put at the top of the list, or with its errors in place."""
    step = agent_step(request, agent_id, step_id)
    if request.method == "GET":
        return _page(request, step, ReplayForm(step=step))
    form = ReplayForm(request.POST, step=step)
    replay = None
    if form.is_valid():
        try:
            replay = replay_enqueue(step=step, changes=form.changes(), user=request.user)
        except ReplayRefused as error:
            form.add_error(None, str(error))
    if not request.htmx:
        return redirect("step-replays", agent_id=agent_id, step_id=step_id) if replay else _page(request, step, form)
    context = {"agent": step.agent, "step": step, "form": form, "queued": replay_view(replay) if replay else None}
    return render(request, "agents/replays.html#replay-form", context)


@login_required
@require_GET
def step_replay(request, agent_id: int, replay_id: int):
    """One replay's fragment: polled while it is queued or running, then its comparison."""
    replay = get_object_or_404(StepReplay.objects.select_related("step__agent"), pk=replay_id,
                               step__agent=owned_agent(request, agent_id))
    return render(request, "agents/replays.html#replay", {"agent": replay.step.agent, "item": replay_view(replay)})
