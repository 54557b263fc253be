"""Hybrid search over archival and recall memory: BM25 over words, computed in PostgreSQL, and
vector similarity (pgvector, or Milvus for archival memory when set), fused by score.

Words: a row matches if it has any of the query's words (stemmed, so "games" finds "game"), a word
with all its parts (so "ORD-48213-K" finds its record and not "ORD-48213-J"). Matches are scored
with Okapi BM25 (term-frequency saturation K1, length normalisation B, IDF), its statistics counted
at query time over the rows in scope, or read from counts made ahead once an owner's memory is
large (memory/word_stats.py). Vectors find paraphrases. Each gives its best CANDIDATES with scores;
the fusion adds the word score divided by the best one's and the similarity scaled between the
worst and best candidate's, weighted WORD_WEIGHT to 1 - WORD_WEIGHT. Days the query names ("last
Tuesday", "on March 3": memory.when) add DATE_BOOST, times how sure the reading is, to the rows
written on them. The weights were measured on bench/retrieval.py (docs/performance.md).

A scope (PassageScope, MessageScope) says which rows a search or a list reaches: as a condition
for the raw ranking queries below and as an ORM filter, written side by side.
"""

import math
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from functools import reduce
from operator import and_
from typing import ClassVar, Sequence

from django.contrib.postgres.expressions import ArraySubquery
from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Lookup, Q
from django.utils import timezone

from memory import milvus, word_stats
from memory.embeddings import get_embedder
from memory.models import Document, Message
from memory.vectors import distance_sql, ensure_vector_indexes
from memory.when import Span, days_named

CANDIDATES = 100
K1, B = 1.2, 0.75  # BM25's usual constants
WORD_WEIGHT = 0.5  # of the fused score; the vectors have the rest
DATE_BOOST = 0.5  # for a row written on a day the query names
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
    scores: dict[int, float]  # each one's fused score
    page: int
    pages: int
    total: int

    @property
    def empty(self) -> bool:
        return self.total == 0


# (row id, score, created_at), best first
Hits = list[tuple[int, float, datetime]]


def _word_hits(scope: "_Scope", query: str) -> Hits:
    """BM25 over the rows in scope that have any of the query's words: counted here while the
    owner's rows are few, from the counts made ahead once they are many (memory/word_stats.py)."""
    scope_sql, scope_params = scope.sql()
    owner_id, stats = _word_stats(scope)
    if stats is not None and stats[1] >= settings.SEARCH_COUNTED_STATS_ROWS:
        stats_id, rows, words, stale = stats
        if stale:
            word_stats.recount_soon(owner_id=owner_id, table=scope.table)
        return _counted_word_hits(scope.table, scope_sql, scope_params, query, stats_id, rows, words / max(rows, 1))
    hits, rows_in_scope = _exact_word_hits(scope.table, scope_sql, scope_params, query)
    if rows_in_scope >= settings.SEARCH_COUNTED_STATS_ROWS:
        word_stats.recount_soon(owner_id=owner_id, table=scope.table)
    return hits


def _word_stats(scope: "_Scope") -> tuple[int, tuple | None]:
    """The scope's owner, and the id, rows, words and staleness of their counts (None: never counted)."""
    owner = "%s" if scope.owner_id is not None else "(SELECT owner_id FROM agents_agent WHERE id = %s)"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT o.owner_id, s.id, s.rows, s.words, s.counted_at < now() - make_interval(secs => %s) "
            f"FROM (SELECT {owner} AS owner_id) o "
            f'LEFT JOIN memory_wordstats s ON s.owner_id = o.owner_id AND s."table" = %s',
            [settings.SEARCH_STATS_MAX_AGE_SECONDS, scope.owner_id or scope.agent_id, scope.table])
        owner_id, *stats = cursor.fetchone()
    return owner_id, (tuple(stats) if stats[0] is not None else None)


# Both word queries below give `matching` rows, each query word's `df`, `rows_in_scope` and the
# `average` length (a row's length: its number of distinct words); this part scores the matching rows.
_BM25 = f"""
        tf AS (  -- each matching row's own counts of the query's words (setweight marks them, ts_filter keeps them)
            SELECT m.id, u.lexeme AS word, cardinality(u.positions) AS tf, length(m.v) AS length
            FROM matching m, qq, unnest(ts_filter(setweight(m.v, 'A', qq.words), '{{a}}')) u),
        scored AS (
            SELECT tf.id, sum(ln(1 + (n - least(df, n) + 0.5) / (least(df, n) + 0.5)) * tf * {K1 + 1}
                              / (tf + {K1} * (1 - {B} + {B} * tf.length / average.length))) AS score
            FROM tf JOIN df USING (word), rows_in_scope, average GROUP BY tf.id ORDER BY score DESC, tf.id DESC
            LIMIT {CANDIDATES})
        SELECT s.id, s.score, m.created_at, rows_in_scope.n FROM scored s JOIN matching m USING (id), rows_in_scope
        ORDER BY s.score DESC, s.id DESC"""


def _exact_word_hits(table: str, scope_sql: str, scope_params: list, query: str) -> tuple[Hits, int]:
    """BM25 with the statistics of the rows in scope, counted now: a word's document frequency
    among the matching rows, their average length. Also how many rows are in scope (0 if none
    matched)."""
    words = _words(query)
    if not words:
        return [], 0
    sql = f"""
        WITH qq AS (SELECT tsvector_to_array(to_tsvector('english', %s)) AS words, {_any_of(words)} AS query),
        matching AS MATERIALIZED (
            SELECT t.id, t.created_at, t.search_vector AS v FROM {table} t, qq WHERE {scope_sql} AND t.search_vector @@ qq.query),
        rows_in_scope AS (SELECT count(*)::float AS n FROM {table} t WHERE {scope_sql}),
        average AS (SELECT avg(length(v))::float AS length FROM matching),
        df AS (
            SELECT u.lexeme AS word, count(*) AS df
            FROM matching m, qq, unnest(ts_filter(setweight(m.v, 'A', qq.words), '{{a}}')) u GROUP BY u.lexeme),{_BM25}"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [query, *words, *scope_params, *scope_params])
        rows = cursor.fetchall()
    return [row[:3] for row in rows], (int(rows[0][3]) if rows else 0)


def _counted_word_hits(table: str, scope_sql: str, scope_params: list, query: str, stats_id: int, rows: int,
                       average: float) -> Hits:
    """BM25 with the owner's counts made ahead, over the rows in scope that match the query's rarer
    words (a word's rarity: its rarest part's): the rarest, and the next ones while the rows that
    hold them add up to no more than CANDIDATE_BUDGET."""
    words = _words(query)
    with connection.cursor() as cursor:
        cursor.execute("SELECT q.n, w, coalesce(c.rows, 1) FROM unnest(%s::text[]) WITH ORDINALITY AS q (word, n) "
                       "CROSS JOIN LATERAL unnest(tsvector_to_array(to_tsvector('english', q.word))) w "
                       "LEFT JOIN memory_wordcount c ON c.stats_id = %s AND c.word = w", [words, stats_id])
        counts: dict[str, int] = {}  # each part's rows
        rarity: dict[int, int] = {}  # each query word's: its rarest part's rows
        for n, lexeme, df in cursor.fetchall():  # a word met since the count is taken as rare (in one row)
            counts[lexeme] = df
            rarity[n] = min(rarity.get(n, df), df)
        if not counts:
            return []
        probed, budget = [], word_stats.CANDIDATE_BUDGET
        for n in sorted(rarity, key=lambda n: (rarity[n], n)):
            if probed and rarity[n] > budget:
                break
            probed.append(words[n - 1])
            budget -= rarity[n]
        cursor.execute(f"""
            WITH qq AS (SELECT %s::text[] AS words),
            df AS (SELECT * FROM unnest(%s::text[], %s::int[]) AS d (word, df)),
            matching AS MATERIALIZED (
                SELECT t.id, t.created_at, t.search_vector AS v FROM {table} t
                WHERE {scope_sql} AND t.search_vector @@ {_any_of(probed)} LIMIT {word_stats.CANDIDATE_CAP}),
            rows_in_scope AS (SELECT %s::float AS n),
            average AS (SELECT %s::float AS length),{_BM25}""",
            [list(counts), list(counts), list(counts.values()), *scope_params, *probed, rows, average])
        return [row[:3] for row in cursor.fetchall()]


def _words(query: str) -> list[str]:
    return [w for w in re.split(r"\s+", query.strip()) if re.search(r"\w", w)][:32]


def _any_of(words: list[str]) -> str:
    """A tsquery of any of the words, each with all its parts ("ORD-48213-K": ord, -48213 and k),
    PostgreSQL's own parsing and quoting: plainto_tsquery(w1) || plainto_tsquery(w2) ..."""
    return "(" + " || ".join(["plainto_tsquery('english', %s)"] * len(words)) + ")"


def _vector_hits(scope: "_Scope", vector: list[float], embedder) -> Hits:
    table, (scope_sql, scope_params) = scope.table, scope.sql()
    model, dims, min_similarity = embedder.model, embedder.dimensions, embedder.min_similarity
    if table == PassageScope.table and milvus.enabled():
        found = dict(milvus.nearest(scope=scope, model=model, vector=vector, limit=CANDIDATES,
                                    min_similarity=min_similarity))
        with connection.cursor() as cursor:  # ids the store still has but PostgreSQL no longer does are dropped
            cursor.execute(f"SELECT id, created_at FROM {table} WHERE id = ANY(%s)", [list(found)])
            created = dict(cursor.fetchall())
        return [(i, similarity, created[i]) for i, similarity in found.items() if i in created]
    ensure_index(model, dims)
    # iterative scans keep an HNSW scan going until enough rows pass the scope filter (pgvector 0.8)
    sql = (f"WITH nearest AS MATERIALIZED (SELECT t.id, t.created_at, {distance_sql(dims)} AS distance FROM {table} t "
           f"WHERE t.embedding_model = %s AND {scope_sql} ORDER BY distance LIMIT {CANDIDATES}) "
           f"SELECT id, 1 - distance, created_at FROM nearest WHERE distance <= %s ORDER BY distance, id")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        cursor.execute("SET LOCAL hnsw.ef_search = 200")
        cursor.execute(sql, [str(vector), model, *scope_params, 1 - min_similarity])
        return cursor.fetchall()


_indexed: set[tuple[str, int]] = set()


def ensure_index(model: str, dims: int) -> None:
    if (model, dims) not in _indexed:
        ensure_vector_indexes(model, dims)
        _indexed.add((model, dims))


# embeds the query (and searches its vectors) while PostgreSQL ranks its words
_nearest = ThreadPoolExecutor(max_workers=4, thread_name_prefix="search-vectors")


def fuse(words: Hits, vectors: list[Hits], days: Sequence[Span] = ()) -> list[tuple[int, float]]:
    """(id, fused score), best first; ties go to the better word score. Each vector list (one per
    embedding model) is scaled on its own, and a row takes its best."""
    scores: dict[int, float] = {}
    created: dict[int, datetime] = {}
    if words:
        best = words[0][1] or 1.0
        for row_id, score, at in words:
            scores[row_id] = WORD_WEIGHT * score / best
            created[row_id] = at
    nearness: dict[int, float] = {}
    for hits in vectors:
        if not hits:
            continue
        high, low = hits[0][1], hits[-1][1]
        for row_id, similarity, at in hits:
            scaled = (similarity - low) / (high - low) if high > low else 1.0
            nearness[row_id] = max(nearness.get(row_id, 0.0), scaled)
            created[row_id] = at
    for row_id, near in nearness.items():
        scores[row_id] = scores.get(row_id, 0.0) + (1 - WORD_WEIGHT) * near
    if days:
        for row_id, at in created.items():
            day = timezone.localtime(at).date()
            scores[row_id] += DATE_BOOST * max((s.weight for s in days if s.first <= day <= s.last), default=0.0)
    word_rank = {row_id: n for n, (row_id, _, _) in enumerate(words)}
    return sorted(scores.items(), key=lambda item: (-item[1], word_rank.get(item[0], len(word_rank))))


def ranked_ids(*, scope: _Scope, query: str, models: Sequence[str], mode: str, page: int, page_size: int) -> Ranked:
    """The rows of `scope` that match `query`: words once, vectors once per embedding model (rows
    embedded with several models, as across an owner's agents), fused; rows written on the days
    the query names raised."""
    if mode not in MODES:
        raise ValueError(f"search_mode must be one of {', '.join(MODES)}, not {mode!r}")
    days = days_named(query, timezone.localtime())
    embedders = [get_embedder(model) for model in models] if mode in ("hybrid", "vector") else []
    # a transaction's own rows are seen on its connection alone: inside one, the vectors are searched
    # here after the words; outside, beside them, on a connection of the embedding thread's own
    beside = not connection.in_atomic_block
    vectors = [_nearest.submit(_embed_and_search, scope, query, embedder, beside) for embedder in embedders]
    words = _word_hits(scope, query) if mode in ("hybrid", "fts") else []
    vectors = [future.result() if beside else _vector_hits(scope, future.result(), embedder)
               for embedder, future in zip(embedders, vectors)]
    return paged(fuse(words, vectors, days), page, page_size)


def _embed_and_search(scope: "_Scope", query: str, embedder, search: bool) -> Hits | list[float]:
    """The query's vector, and with `search` its nearest rows (then this thread's connection goes
    back to the pool)."""
    vector = embedder.embed([query])[0]
    if not search:
        return vector
    try:
        return _vector_hits(scope, vector, embedder)
    finally:
        connection.close()


def paged(hits: list[tuple[int, float]], page: int, page_size: int) -> Ranked:
    pages = max(1, math.ceil(len(hits) / page_size))
    shown = hits[(page - 1) * page_size : page * page_size]
    return Ranked([i for i, _ in shown], dict(shown), page, pages, len(hits))
