"""Reads of the memory tiers."""

from django.apps import apps as django_apps
from django.db import connection
from django.db.models import Q, QuerySet

from memory.models import Block, MemoryTemplate, Message, Passage
from memory.search import message_scope, passage_scope, ranked_ids, Ranked


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


def archival_passages(*, agent_id: int) -> QuerySet[Passage]:
    sql, params = passage_scope(agent_id)
    return Passage.objects.extra(where=[sql.replace("t.", "memory_passage.")], params=params)


def memory_counts(*, agent_id: int) -> tuple[int, int]:
    """Messages in recall memory (all ever stored, summaries aside) and passages in archival memory
    (the agent's own and its sources'), in one round trip: every turn reads both."""
    scope, params = passage_scope(agent_id)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT (SELECT COUNT(*) FROM memory_message WHERE agent_id = %s AND kind <> %s), "
                       f"(SELECT COUNT(*) FROM memory_passage t WHERE {scope})", [agent_id, Message.Kind.SUMMARY, *params])
        recall, archival = cursor.fetchone()
    return recall, archival


def passage_search(*, agent_id: int, embedding_model: str, query: str, page: int = 1, page_size: int = 5,
                   mode: str = "hybrid") -> tuple[list[Passage], Ranked]:
    scope_sql, scope_params = passage_scope(agent_id)
    ranked = ranked_ids(table="memory_passage", scope_sql=scope_sql, scope_params=scope_params, query=query,
                        model=embedding_model, mode=mode, page=page, page_size=page_size)
    rows = Passage.objects.select_related("document").in_bulk(ranked.ids)
    return [rows[i] for i in ranked.ids if i in rows], ranked


def message_search(*, agent_id: int, embedding_model: str, query: str, page: int = 1, page_size: int = 5,
                   mode: str = "hybrid", start=None, end=None) -> tuple[list[Message], Ranked]:
    scope_sql, scope_params = message_scope(agent_id, start, end)
    ranked = ranked_ids(table="memory_message", scope_sql=scope_sql, scope_params=scope_params, query=query,
                        model=embedding_model, mode=mode, page=page, page_size=page_size)
    rows = Message.objects.in_bulk(ranked.ids)
    return [rows[i] for i in ranked.ids if i in rows], ranked


def messages_between(*, agent_id: int, start, end, page: int = 1, page_size: int = 5) -> tuple[list[Message], int]:
    """The conversation between two moments, oldest first, one page of it, and the total."""
    queryset = Message.objects.filter(agent_id=agent_id, kind__in=[Message.Kind.USER_MESSAGE, Message.Kind.ASSISTANT],
                                      created_at__gte=start, created_at__lt=end).order_by("id")
    total = queryset.count()
    return list(queryset[(page - 1) * page_size : page * page_size]), total
