"""Reads of the memory tiers."""

from typing import Sequence

from django.apps import apps as django_apps
from django.db import connection
from django.db.models import Q, QuerySet

from memory.models import Block, MemoryTemplate, Message, Passage
from memory.search import MessageScope, PassageScope, Ranked, ranked_ids


def memory_templates(*, kind: str, owner) -> QuerySet[MemoryTemplate]:
    """The built-in templates of a kind (put back if missing) and the owner's own."""
    from memory.templates_builtin import seed

    if not MemoryTemplate.objects.filter(owner__isnull=True).exists():
        seed(django_apps, None)
    return MemoryTemplate.objects.filter(Q(owner__isnull=True) | Q(owner=owner), kind=kind).order_by("name")


def agent_blocks(*, agent_id: int) -> list[Block]:
    return list(Block.objects.filter(blockattachment__agent_id=agent_id).order_by("blockattachment__position", "id"))


def in_context_messages(*, agent_id: int) -> list[Message]:
    return list(Message.objects.filter(agent_id=agent_id, in_context=True).order_by("id"))


def passage_list(*, scope: PassageScope) -> QuerySet[Passage]:
    return Passage.objects.filter(scope.q()).select_related("document")


def message_list(*, scope: MessageScope) -> QuerySet[Message]:
    """Oldest first."""
    return Message.objects.filter(scope.q()).order_by("id")


def memory_counts(*, agent_id: int) -> tuple[int, int]:
    """Messages in recall memory (all ever stored, summaries aside) and passages in archival memory
    (the agent's own and its sources'), in one round trip: every turn reads both."""
    scope, params = PassageScope(agent_id=agent_id).sql()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT (SELECT COUNT(*) FROM memory_message WHERE agent_id = %s AND kind <> %s), "
                       f"(SELECT COUNT(*) FROM memory_passage t WHERE {scope})", [agent_id, Message.Kind.SUMMARY, *params])
        recall, archival = cursor.fetchone()
    return recall, archival


def _search(rows: QuerySet, scope: PassageScope | MessageScope, query: str, embedding_models: Sequence[str] | None,
            mode: str, page: int, page_size: int) -> tuple[list, Ranked]:
    if embedding_models is None and mode != "fts":  # the models the rows in scope were embedded with
        embedding_models = list(rows.filter(scope.q()).exclude(embedding_model="").order_by("embedding_model")
                                .values_list("embedding_model", flat=True).distinct())
    ranked = ranked_ids(scope=scope, query=query, models=embedding_models or [], mode=mode, page=page,
                        page_size=page_size)
    found = rows.in_bulk(ranked.ids)
    return [found[i] for i in ranked.ids if i in found], ranked


def passage_search(*, scope: PassageScope, query: str, embedding_models: Sequence[str] | None = None,
                   mode: str = "hybrid", page: int = 1, page_size: int = 5) -> tuple[list[Passage], Ranked]:
    """The passages of `scope` that match `query` by words and by meaning, best first, one page of
    them. The query is compared with the vectors of each of `embedding_models` (by default every
    model the passages in scope were embedded with); the rankings are fused."""
    return _search(Passage.objects.select_related("document"), scope, query, embedding_models, mode, page, page_size)


def message_search(*, scope: MessageScope, query: str, embedding_models: Sequence[str] | None = None,
                   mode: str = "hybrid", page: int = 1, page_size: int = 5) -> tuple[list[Message], Ranked]:
    """passage_search over the conversation in recall memory."""
    return _search(Message.objects.all(), scope, query, embedding_models, mode, page, page_size)
