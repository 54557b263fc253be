"""Reads for the REST API, every one scoped to the user who owns the token."""

from datetime import datetime

from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery

from agents.models import RUN_UNFINISHED, Agent, Group, Run, Step, Tool
from agents.selectors import tools_usable_by
from memory.models import Block, BlockAttachment, Document, Message, Passage, Source
from memory.search import MessageScope, PassageScope
from memory.selectors import message_search, passage_list, passage_search

# --- lookups: another user's rows do not exist --------------------------------------------------


def agents_of(owner) -> QuerySet[Agent]:
    """The owner's agents with what their Letta shape needs: blocks in order, folders, in-context
    message ids, and how their last finished turn ended."""
    last = Run.objects.filter(agent=OuterRef("pk"), status__in=[Run.Status.COMPLETED, Run.Status.FAILED,
                                                                  Run.Status.CANCELLED]).order_by("-id")
    return (Agent.objects.filter(owner=owner)
            .annotate(last_stop_reason=Subquery(last.values("stop_reason")[:1]),
                      last_run_started_at=Subquery(last.values("started_at")[:1]),
                      last_run_finished_at=Subquery(last.values("finished_at")[:1]))
            .prefetch_related(
                Prefetch("blockattachment_set", to_attr="attachments",
                         queryset=BlockAttachment.objects.select_related("block").order_by("position", "id")),
                Prefetch("sources", to_attr="folders"),
                Prefetch("tools", to_attr="tool_set", queryset=Tool.objects.order_by("kind", "pk")),
                Prefetch("managed_groups", to_attr="groups_managed", queryset=Group.objects.order_by("id")),
                Prefetch("messages", to_attr="in_context", queryset=Message.objects.filter(in_context=True)
                         .only("id", "agent_id").order_by("id"))))


def agents_matching(owner, *, name: str | None = None, query_text: str | None = None, tags: list[str] | None = None,
                    match_all_tags: bool = False, last_stop_reason: str | None = None) -> QuerySet[Agent]:
    agents = agents_of(owner)
    if name:
        agents = agents.filter(name=name)
    if query_text:
        agents = agents.filter(name__icontains=query_text)
    if tags:
        agents = agents.filter(tags__contains=tags) if match_all_tags else agents.filter(tags__overlap=tags)
    if last_stop_reason:
        agents = agents.filter(last_stop_reason=last_stop_reason)
    return agents


def blocks_matching(owner, *, label: str | None = None, label_search: str | None = None, value_search: str | None = None,
                    description_search: str | None = None, agents_more_than: int | None = None,
                    agents_fewer_than: int | None = None, agents_exactly: list[int] | None = None) -> QuerySet[Block]:
    blocks = Block.objects.filter(owner=owner).annotate(agent_count=Count("blockattachment"))
    for value, lookup in ((label, "label"), (label_search, "label__icontains"), (value_search, "value__icontains"),
                          (description_search, "description__icontains"), (agents_more_than, "agent_count__gt"),
                          (agents_fewer_than, "agent_count__lt"), (agents_exactly, "agent_count__in")):
        if value is not None:
            blocks = blocks.filter(**{lookup: value})
    return blocks


def runs_matching(owner, *, agents: list[Agent] | None = None, statuses: list[str] | None = None,
                  active: bool | None = None, stop_reason: str | None = None) -> QuerySet[Run]:
    runs = Run.objects.filter(agent__owner=owner).select_related("group_turn")
    if agents:
        runs = runs.filter(agent__in=agents)
    if statuses:
        runs = runs.filter(status__in=statuses)
    if active is not None:
        runs = runs.filter(status__in=RUN_UNFINISHED) if active else runs.exclude(status__in=RUN_UNFINISHED)
    if stop_reason:
        runs = runs.filter(stop_reason=stop_reason)
    return runs


def steps_matching(owner, *, agent: Agent | None = None, model: str | None = None, start: datetime | None = None,
                   end: datetime | None = None) -> QuerySet[Step]:
    steps = Step.objects.filter(agent__owner=owner).select_related("agent")
    if agent is not None:
        steps = steps.filter(agent=agent)
    if model:
        steps = steps.filter(model=model)
    if start:
        steps = steps.filter(created_at__gte=start)
    if end:
        steps = steps.filter(created_at__lt=end)
    return steps


def block_get(owner, pk: int) -> Block:
    return Block.objects.get(owner=owner, pk=pk)


def owned(model: type, owner, pks: list[int]) -> list:
    """The owner's rows with these keys, in this order; model.DoesNotExist if one is missing or not theirs."""
    rows = model.objects.filter(owner=owner).in_bulk(pks)
    if any(pk not in rows for pk in pks):
        raise model.DoesNotExist
    return [rows[pk] for pk in dict.fromkeys(pks)]


def agent_block(agent: Agent, label: str) -> Block:
    if len(label) > 100 or "\x00" in label:
        raise Block.DoesNotExist
    return Block.objects.get(blockattachment__agent=agent, label=label)


def run_get(owner, pk: int) -> Run:
    return Run.objects.select_related("agent", "group_turn").get(agent__owner=owner, pk=pk)


def step_get(owner, pk: int) -> Step:
    return Step.objects.select_related("agent").get(agent__owner=owner, pk=pk)


def folder_get(owner, pk: int) -> Source:
    return Source.objects.get(owner=owner, pk=pk)


def file_get(folder: Source, pk: int) -> Document:
    return Document.objects.get(source=folder, pk=pk)


def tool_for_owner(owner, pk: int) -> Tool:
    """A tool the owner may use; Tool.DoesNotExist for someone else's."""
    return tools_usable_by(owner).get(pk=pk)


def tools_named(owner, *, names: list[str], pks: list[int | str]) -> tuple[list[Tool], list[int | str]]:
    """The tools the owner may use with these names and keys, each once, in the order named; and
    the names and keys (or malformed ids, passed as given) that match none."""
    usable = tools_usable_by(owner)
    by_name = {t.name: t for t in usable.filter(name__in=names)}  # a custom tool cannot take a built-in name
    by_pk = usable.in_bulk([pk for pk in pks if isinstance(pk, int)])
    missing = [n for n in names if n not in by_name] + [pk for pk in pks if pk not in by_pk]
    found = {t.pk: t for t in [*(by_name[n] for n in names if n in by_name), *(by_pk[pk] for pk in pks if pk in by_pk)]}
    return list(found.values()), missing


# tool types as Letta names them -> the built-in tools' names (playground.api.letta.TOOL_TYPES), or custom ones
def _of_types(types: list[str], builtin_types: dict[str, str]) -> Q:
    names = [name for name, kind in builtin_types.items() if kind in types]
    custom = Q(kind=Tool.Kind.CUSTOM) if "custom" in types else Q(pk__in=[])
    return custom | Q(kind=Tool.Kind.BUILTIN, name__in=names)


def tools_matching(owner, *, builtin_types: dict[str, str], name: str | None = None, names: list[str] | None = None,
                   search: str | None = None, pks: list[int] | None = None, types: list[str] | None = None,
                   exclude_types: list[str] | None = None, tags: list[str] | None = None) -> QuerySet[Tool]:
    tools = tools_usable_by(owner)
    if name:
        tools = tools.filter(name=name)
    if names:
        tools = tools.filter(name__in=names)
    if search:
        tools = tools.filter(name__icontains=search)
    if pks:
        tools = tools.filter(pk__in=pks)
    if types:
        tools = tools.filter(_of_types(types, builtin_types))
    if exclude_types:
        tools = tools.exclude(_of_types(exclude_types, builtin_types))
    if tags:
        tools = tools.filter(tags__overlap=tags)
    return tools


def tools_search(owner, *, query: str, builtin_types: dict[str, str], types: list[str] | None = None,
                 tags: list[str] | None = None, limit: int = 50) -> list[tuple[Tool, float]]:
    """The owner's tools whose name, description or tags hold words of the query, best first, with
    the share of the query's words each holds; without a query, all of them (score 1)."""
    tools = list(tools_matching(owner, builtin_types=builtin_types, types=types, tags=tags).order_by("kind", "pk"))
    words = {w for w in query.lower().replace("_", " ").split() if w}
    if not words:
        return [(tool, 1.0) for tool in tools[:limit]]
    scored = []
    for tool in tools:
        text = " ".join([tool.name.replace("_", " "), tool.description, *tool.tags]).lower()
        score = sum(word in text for word in words) / len(words)
        if score:
            scored.append((tool, score))
    return sorted(scored, key=lambda pair: -pair[1])[:limit]


def agent_tools(agent: Agent) -> list[Tool]:
    """The agent's tool set, built-in tools first, in the order the model is offered them."""
    return list(agent.tools.order_by("kind", "pk"))


# --- cursors ------------------------------------------------------------------------------------


def page(queryset: QuerySet, *, after: int | None = None, before: int | None = None, limit: int = 50,
         ascending: bool = True) -> list:
    """One page in id order (ids grow with creation time). `after` continues past a cursor in the
    list's order; `before` alone gives the `limit` rows nearest before the cursor, still in order."""
    if after is not None:
        queryset = queryset.filter(pk__gt=after) if ascending else queryset.filter(pk__lt=after)
    if before is not None:
        queryset = queryset.filter(pk__lt=before) if ascending else queryset.filter(pk__gt=before)
    if before is not None and after is None:
        rows = list(queryset.order_by("-pk" if ascending else "pk")[:limit])
        return rows[::-1]
    return list(queryset.order_by("pk" if ascending else "-pk")[:limit])


# --- search -------------------------------------------------------------------------------------


def passages_search(owner, *, query: str, agent: Agent | None = None, mode: str = "hybrid", tags: list[str] | None = None,
                    match_all_tags: bool = False, start: datetime | None = None, end: datetime | None = None,
                    limit: int = 10) -> list[tuple[Passage, float]]:
    """Archival memory of one agent (with its folders), or all the owner's passages, with each
    one's RRF score; without a query, the newest passages in scope."""
    whose = {"agent_id": agent.pk} if agent is not None else {"owner_id": owner.pk}
    scope = PassageScope(**whose, tags=tuple(tags or ()), all_tags=match_all_tags, start=start, end=end)
    if not query.strip():
        return [(p, 1.0) for p in passage_list(scope=scope).order_by("-id")[:limit]]
    passages, ranked = passage_search(scope=scope, query=query, mode=mode, page_size=limit,
                                      embedding_models=[agent.embedding_model] if agent is not None else None)
    return [(p, ranked.scores[p.pk]) for p in passages]


def messages_search(owner, *, query: str, agent: Agent | None = None, mode: str = "hybrid",
                    start: datetime | None = None, end: datetime | None = None, limit: int = 50) -> list[Message]:
    """What users said and agents answered, in one agent's recall memory or all the owner's."""
    whose = {"agent_id": agent.pk} if agent is not None else {"owner_id": owner.pk}
    messages, _ = message_search(scope=MessageScope(**whose, start=start, end=end), query=query, mode=mode,
                                 page_size=limit, embedding_models=[agent.embedding_model] if agent is not None else None)
    return messages
