"""Reads about agents."""

from agents.engine.context import CompiledContext, compile_context
from agents.engine.tools import tools_of
from django.db.models import Q, QuerySet

from agents.models import Agent, Tool
from agents.storage import DjangoStore
from memory.tokens import tokenizer_for_model


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
    tokenizer, approximate = tokenizer_for_model(state.model)
    return compile_context(state, tools=[t.schema for t in tools_of(state)], tokenizer=tokenizer, approximate=approximate)


def agent_tags(*, owner, name: str = "") -> list[str]:
    """Every tag the owner's agents carry, alphabetically; with `name`, those containing it."""
    tags = {tag for tags in Agent.objects.filter(owner=owner).values_list("tags", flat=True) for tag in tags}
    return sorted(tag for tag in tags if name.lower() in tag.lower())
