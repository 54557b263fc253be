"""An agent's history in order, newest first: its runs, their steps and what each step changed in
memory (block edits, passages), with the person's own block edits and the agent's rewinds between
them, and where a fork came from (the agent page's Timeline tab)."""

from dataclasses import dataclass, field
from datetime import datetime

from django.db.models import BooleanField, Count, ExpressionWrapper, Prefetch, Q

from agents.history.scenarios import pin_refusal
from agents.models import Agent, Rewind, Run, Step
from memory.models import BlockRevision, Message, Passage

RUNS_PER_PAGE = 10


@dataclass
class StepEntry:
    step: Step
    calls: list[str]  # the tools it called, in order
    said: str  # what it said or thought, shortened
    edits: list[BlockRevision]
    passages: list[Passage]
    replays: int
    can_go_back: bool  # it keeps the agent's state: it can be forked, rewound to, pinned


@dataclass
class Entry:
    kind: str  # "run", "edit" (a person's block edit), "rewind"
    at: datetime
    run: Run | None = None
    steps: list[StepEntry] = field(default_factory=list)
    revision: BlockRevision | None = None
    rewind: Rewind | None = None
    pinnable: bool = False  # a run that can be pinned as a scenario (agents/history/scenarios.py)


@dataclass
class Timeline:
    entries: list[Entry]
    page: int
    has_next: bool
    forked_from: Step | None  # shown at the end of the last page


def agent_timeline(*, agent: Agent, page: int = 1) -> Timeline:
    page = max(page, 1)
    steps = (Step.objects.defer("request", "response", "state", "tokens").annotate(replay_count=Count("replays"))
             .annotate(has_state=ExpressionWrapper(Q(state__has_key="agent"), output_field=BooleanField()))
             .prefetch_related(Prefetch("blockrevision_set", to_attr="edits",
                                        queryset=BlockRevision.objects.select_related("block").order_by("id")),
                               Prefetch("passages", queryset=Passage.objects.order_by("id"), to_attr="inserted"),
                               Prefetch("messages", queryset=Message.objects.filter(role="assistant").order_by("id"),
                                        to_attr="answers")))
    window = list(agent.runs.order_by("-id").prefetch_related(Prefetch("steps", queryset=steps.order_by("index")))
                  [(page - 1) * RUNS_PER_PAGE: page * RUNS_PER_PAGE + 1])
    runs, has_next = window[:RUNS_PER_PAGE], len(window) > RUNS_PER_PAGE
    entries = [Entry("run", run.created_at, run=run, steps=[_step_entry(s) for s in run.steps.all()],
                     pinnable=_pinnable(run)) for run in runs]

    # what happened between this page's runs: the person's block edits, the rewinds
    newest = None if page == 1 or not runs else (
        agent.runs.filter(pk__gt=runs[0].pk).order_by("id").values_list("created_at", flat=True).first())
    oldest = runs[-1].created_at if has_next and runs else None
    edits = BlockRevision.objects.filter(block__blockattachment__agent=agent, actor=BlockRevision.Actor.USER)
    rewinds = agent.rewinds.all()
    if newest is not None:
        edits, rewinds = edits.filter(created_at__lt=newest), rewinds.filter(created_at__lt=newest)
    if oldest is not None:
        edits, rewinds = edits.filter(created_at__gte=oldest), rewinds.filter(created_at__gte=oldest)
    entries += [Entry("edit", r.created_at, revision=r) for r in edits.select_related("block", "user")[:200]]
    entries += [Entry("rewind", r.created_at, rewind=r) for r in rewinds[:50]]
    entries.sort(key=lambda e: e.at, reverse=True)
    forked_from = None
    if not has_next and agent.forked_from_id:
        forked_from = Step.objects.select_related("agent").defer("request", "response", "state").get(
            pk=agent.forked_from_id)
    return Timeline(entries, page, has_next, forked_from)


def _pinnable(run: Run) -> bool:
    steps = list(run.steps.all())
    return not pin_refusal(run, steps) and steps[0].has_state


def _step_entry(step: Step) -> StepEntry:
    calls = [call["function"]["name"] for answer in step.answers for call in answer.tool_calls or ()]
    said = " ".join(answer.text for answer in step.answers if answer.text)
    return StepEntry(step, calls, said[:160], step.edits, step.inserted, step.replay_count,
                     can_go_back=bool(step.has_state))
