"""Hybrid search over archival and recall memory: PostgreSQL full-text search and pgvector
similarity, fused by reciprocal rank fusion (RRF).

Full-text search matches words (stemmed, so "games" finds "game"); each query word is its own
alternative, so a long question still finds passages that share only its rare words. Vector
search finds paraphrases. Each gives its best CANDIDATES; RRF scores a row 1/(60 + rank) in
each list it is in.

A scope (PassageScope, MessageScope) says which rows a search or a list reaches: as a condition
for the raw ranking queries below and as an ORM filter, written side by side.
"""

import math
import re
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from operator import and_
from typing import ClassVar, Sequence

from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection, transaction
from django.db.models import F, Lookup, Q

from memory.embeddings import get_embedder
from memory.models import Document, Message
from memory.vectors import distance_sql, ensure_vector_indexes

CANDIDATES = 100
RRF_K = 60
MODES = ("hybrid", "vector", "fts")
# what users and other agents said, and what the agent answered
CONVERSATION = (Message.Kind.USER_MESSAGE, Message.Kind.AGENT_MESSAGE, Message.Kind.GROUP_MESSAGE, Message.Kind.ASSISTANT)


# --- scopes: which rows a search or a list reaches --------------------------------------------


class _AnyOf(Lookup):
    """`lhs = ANY(rhs)` for an array expression on the right."""

    def as_sql(self, compiler, connection) -> tuple[str, list]:
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", [*lhs_params, *rhs_params]


# one condition, written for the raw ranking queries (the row is `t`) and for the ORM, side by side
Condition = tuple[str, list, Q]


def _between(start: datetime | None, end: datetime | None) -> list[Condition]:
    conditions = []
    if start is not None:
        conditions.append(("t.created_at >= %s", [start], Q(created_at__gte=start)))
    if end is not None:
        conditions.append(("t.created_at < %s", [end], Q(created_at__lt=end)))
    return conditions


class _Scope:
    table: ClassVar[str]
    agent_id: int | None
    owner_id: int | None

    def __post_init__(self) -> None:
        if (self.agent_id is None) == (self.owner_id is None):
            raise ValueError(f"a {type(self).__name__} is one agent's or one owner's: give agent_id or owner_id")

    def conditions(self) -> list[Condition]:
        raise NotImplementedError

    def sql(self) -> tuple[str, list]:
        """The scope as a condition on the row `t` of `table`, with its parameters."""
        conditions = self.conditions()
        return " AND ".join(sql for sql, _, _ in conditions), [p for _, params, _ in conditions for p in params]

    def q(self) -> Q:
        """The same scope as an ORM filter."""
        return reduce(and_, (q for _, _, q in self.conditions()))


@dataclass(frozen=True)
class PassageScope(_Scope):
    """One agent's archival memory (its own passages and those of the finished documents in
    sources attached to it), or all of an owner's passages; optionally only those with any (or
    all) of `tags`, created from `start` up to `end`."""

    table: ClassVar[str] = "memory_passage"
    agent_id: int | None = None
    owner_id: int | None = None
    tags: tuple[str, ...] = ()
    all_tags: bool = False
    start: datetime | None = None
    end: datetime | None = None

    def conditions(self) -> list[Condition]:
        if self.agent_id is not None:
            # `= ANY(ARRAY(...))` rather than `IN (...)`: the documents are looked up once, first, and
            # both sides of the OR use their index (a BitmapOr); with `IN` PostgreSQL scans every passage
            documents = Document.objects.filter(source__agents=self.agent_id, status=Document.Status.DONE).values("id")
            conditions = [(
                "(t.agent_id = %s OR t.document_id = ANY(ARRAY(SELECT d.id FROM memory_document d "
                "JOIN memory_source_agents sa ON sa.source_id = d.source_id WHERE sa.agent_id = %s AND d.status = 'done')))",
                [self.agent_id, self.agent_id],
                Q(agent_id=self.agent_id) | Q(_AnyOf(F("document_id"), ArraySubquery(documents))),
            )]
        else:
            conditions = [("t.owner_id = %s", [self.owner_id], Q(owner_id=self.owner_id))]
        tags = list(self.tags)
        if tags and self.all_tags:
            conditions.append(("t.tags @> %s::varchar[]", [tags], Q(tags__contains=tags)))
        elif tags:
            conditions.append(("t.tags && %s::varchar[]", [tags], Q(tags__overlap=tags)))
        return conditions + _between(self.start, self.end)


@dataclass(frozen=True)
class MessageScope(_Scope):
    """The conversation (what users said and agents answered) of one agent, or of all an owner's
    agents, optionally from `start` up to `end`."""

    table: ClassVar[str] = "memory_message"
    agent_id: int | None = None
    owner_id: int | None = None
    start: datetime | None = None
    end: datetime | None = None

    def conditions(self) -> list[Condition]:
        whose = ("t.agent_id = %s", [self.agent_id], Q(agent_id=self.agent_id)) if self.agent_id is not None else (
            "t.owner_id = %s", [self.owner_id], Q(owner_id=self.owner_id))
        kinds = ("t.kind IN ('user_message', 'agent_message', 'group_message', 'assistant')", [], Q(kind__in=CONVERSATION))
        return [whose, kinds, *_between(self.start, self.end)]


# --- ranking ----------------------------------------------------------------------------------


@dataclass
class Ranked:
    ids: list[int]  # this page's, best first
    scores: dict[int, float]  # each one's RRF score
    page: int
    pages: int
    total: int

    @property
    def empty(self) -> bool:
        return self.total == 0


def fuse(*rankings: list[int]) -> list[tuple[int, float]]:
    """Reciprocal rank fusion: (id, score), best first; ties go to the earlier list (full-text
    first: an exact word match is the sharper signal)."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, row_id in enumerate(ranking):
            scores[row_id] = scores.get(row_id, 0.0) + 1.0 / (RRF_K + rank + 1)
    first_seen = {row_id: n for n, row_id in enumerate(dict.fromkeys(i for ranking in rankings for i in ranking))}
    return [(row_id, scores[row_id]) for row_id in sorted(scores, key=lambda i: (-scores[i], first_seen[i]))]


def _words(query: str) -> list[str]:
    return [w for w in re.split(r"\s+", query.strip()) if re.search(r"\w", w)][:32]


def _tsquery(words: list[str]) -> tuple[str, list[str]]:
    """Any of the words: plainto_tsquery(w1) || plainto_tsquery(w2) ..."""
    return " || ".join(["plainto_tsquery('english', %s)"] * len(words)), words


def _fts_ids(table: str, scope_sql: str, scope_params: list, query: str) -> list[int]:
    words = _words(query)
    if not words:
        return []
    tsquery, params = _tsquery(words)
    sql = (f"SELECT t.id FROM {table} t, (SELECT {tsquery} AS query) q "
           f"WHERE {scope_sql} AND t.search_vector @@ q.query "
           f"ORDER BY ts_rank_cd(t.search_vector, q.query) DESC, t.id DESC LIMIT {CANDIDATES}")
    with connection.cursor() as cursor:
        cursor.execute(sql, params + scope_params)
        return [row[0] for row in cursor.fetchall()]


def _vector_ids(table: str, scope_sql: str, scope_params: list, query: str, model: str) -> list[int]:
    embedder = get_embedder(model)
    vector = embedder.embed([query])[0]
    dims = embedder.dimensions
    ensure_index(model, dims)
    # iterative scans keep an HNSW scan going until enough rows pass the scope filter (pgvector 0.8)
    sql = (f"WITH nearest AS MATERIALIZED (SELECT t.id, {distance_sql(dims)} AS distance FROM {table} t "
           f"WHERE t.embedding_model = %s AND {scope_sql} ORDER BY distance LIMIT {CANDIDATES}) "
           f"SELECT id FROM nearest WHERE distance <= %s ORDER BY distance, id")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        cursor.execute("SET LOCAL hnsw.ef_search = 200")
        cursor.execute(sql, [str(vector), model, *scope_params, 1 - embedder.min_similarity])
        return [row[0] for row in cursor.fetchall()]


_indexed: set[tuple[str, int]] = set()


def ensure_index(model: str, dims: int) -> None:
    if (model, dims) not in _indexed:
        ensure_vector_indexes(model, dims)
        _indexed.add((model, dims))


def ranked_ids(*, scope: _Scope, query: str, models: Sequence[str], mode: str, page: int, page_size: int) -> Ranked:
    """The rows of `scope` that match `query`: full text once, vectors once per embedding model
    (rows embedded with several models, as across an owner's agents), fused."""
    if mode not in MODES:
        raise ValueError(f"search_mode must be one of {', '.join(MODES)}, not {mode!r}")
    table, (scope_sql, scope_params) = scope.table, scope.sql()
    rankings = []
    if mode in ("hybrid", "fts"):
        rankings.append(_fts_ids(table, scope_sql, scope_params, query))
    if mode in ("hybrid", "vector"):
        rankings += [_vector_ids(table, scope_sql, scope_params, query, model) for model in models]
    return paged(fuse(*rankings), page, page_size)


def paged(hits: list[tuple[int, float]], page: int, page_size: int) -> Ranked:
    pages = max(1, math.ceil(len(hits) / page_size))
    shown = hits[(page - 1) * page_size : page * page_size]
    return Ranked([i for i, _ in shown], dict(shown), page, pages, len(hits))
