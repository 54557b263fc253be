"""Reads about agents."""

from django.conf import settings
from django.db.models import Prefetch, Q, QuerySet

from agents.engine.context import CompiledContext, compile_context
from agents.engine.tools import tools_of
from agents.models import Agent, ModelServer, Run, Step, Tool
from agents.storage import DjangoStore
from agents.llm.tokenize import agent_tokenizer


def agent_for_owner(*, owner, agent_id: int | None = None, name: str | None = None) -> Agent:
    """One of the owner's agents; Agent.DoesNotExist for anyone else's."""
    agents = Agent.objects.filter(owner=owner)
    return agents.get(pk=agent_id) if agent_id is not None else agents.get(name=name)


def tools_usable_by(owner) -> QuerySet[Tool]:
    """The tools the owner may use: the built-in ones and their own."""
    return Tool.objects.filter(Q(owner=owner) | Q(owner=None))


def agent_context(*, agent: Agent) -> CompiledContext:
    """The context the agent's next request would send, as the engine compiles it."""
    state = DjangoStore(agent).load()
    tokenizer, approximate = agent_tokenizer(agent)
    return compile_context(state, tools=[t.schema for t in tools_of(state)], tokenizer=tokenizer, approximate=approximate)


def agent_tags(*, owner, name: str = "") -> list[str]:
    """Every tag the owner's agents carry, alphabetically; with `name`, those containing it."""
    tags = {tag for tags in Agent.objects.filter(owner=owner).values_list("tags", flat=True) for tag in tags}
    return sorted(tag for tag in tags if name.lower() in tag.lower())


def run_trees(runs: QuerySet[Run]) -> QuerySet[Run]:
    """Runs as call trees across agents: each with the run and step whose message started it, its
    steps, and under each step the runs its messages started on other agents (`step.sent_runs`),
    with theirs, as deep as messages may go. A query per level, none per run."""
    lookups: list = ["parent_run__agent", "parent_step"]
    for depth in range(settings.AGENT_MESSAGE_MAX_DEPTH):
        below = "steps__sent_runs__" * depth
        lookups += [Prefetch(below + "steps", queryset=Step.objects.defer("request", "response").order_by("index")),
                    Prefetch(below + "steps__sent_runs", queryset=Run.objects.select_related("agent").order_by("id"))]
    return runs.select_related("agent").prefetch_related(*lookups)


def model_servers_of(*, owner) -> QuerySet[ModelServer]:
    """The owner's model servers, by name."""
    return ModelServer.objects.filter(owner=owner).order_by("name")


def model_server_of(*, owner, server_id: int) -> ModelServer:
    """One of the owner's model servers; ModelServer.DoesNotExist for anyone else's."""
    return ModelServer.objects.get(owner=owner, pk=server_id)


def model_server_named(*, owner_id: int, name: str) -> ModelServer | None:
    return ModelServer.objects.filter(owner_id=owner_id, name=name).first()
