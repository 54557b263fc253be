"""Hybrid search over archival and recall memory: PostgreSQL full-text search and pgvector
similarity, fused by reciprocal rank fusion (RRF).

Full-text search matches words (stemmed, so "games" finds "game"); each query word is its own
alternative, so a long question still finds passages that share only its rare words. Vector
search finds paraphrases. Each gives its best CANDIDATES; RRF scores a row 1/(60 + rank) in
each list it is in.
"""

import math
import re
from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction

from memory.embeddings import get_embedder
from memory.vectors import distance_sql, ensure_vector_indexes

CANDIDATES = 100
RRF_K = 60
MODES = ("hybrid", "vector", "fts")


@dataclass
class Ranked:
    ids: list[int]  # best first
    page: int
    pages: int
    total: int

    @property
    def empty(self) -> bool:
        return self.total == 0


def fuse(*rankings: list[int]) -> list[int]:
    """Reciprocal rank fusion; ties go to the earlier list (full-text first: an exact word match
    is the sharper signal)."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, row_id in enumerate(ranking):
            scores[row_id] = scores.get(row_id, 0.0) + 1.0 / (RRF_K + rank + 1)
    first_seen = {row_id: n for n, row_id in enumerate(dict.fromkeys(i for ranking in rankings for i in ranking))}
    return sorted(scores, key=lambda row_id: (-scores[row_id], first_seen[row_id]))


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


def ranked_ids(*, table: str, scope_sql: str, scope_params: list, query: str, model: str, mode: str,
               page: int, page_size: int) -> Ranked:
    if mode not in MODES:
        raise ValueError(f"search_mode must be one of {', '.join(MODES)}, not {mode!r}")
    rankings = []
    if mode in ("hybrid", "fts"):
        rankings.append(_fts_ids(table, scope_sql, scope_params, query))
    if mode in ("hybrid", "vector"):
        rankings.append(_vector_ids(table, scope_sql, scope_params, query, model))
    fused = fuse(*rankings)
    return paged(fused, page, page_size)


def paged(ids: list[int], page: int, page_size: int) -> Ranked:
    pages = max(1, math.ceil(len(ids) / page_size))
    return Ranked(ids[(page - 1) * page_size : page * page_size], page, pages, len(ids))


def passage_scope(agent_id: int) -> tuple[str, list]:
    """An agent's own passages and those of documents in sources attached to it.

    `= ANY(ARRAY(...))` rather than `IN (...)`: the documents are looked up once, first, and both
    sides of the OR use their index (a BitmapOr); with `IN` PostgreSQL scans every passage."""
    return (
        "(t.agent_id = %s OR t.document_id = ANY(ARRAY(SELECT d.id FROM memory_document d "
        "JOIN memory_source_agents sa ON sa.source_id = d.source_id WHERE sa.agent_id = %s AND d.status = 'done')))",
        [agent_id, agent_id],
    )


def message_scope(agent_id: int, start: datetime | None = None, end: datetime | None = None) -> tuple[str, list]:
    """An agent's conversation: what the user said and what the agent answered."""
    sql, params = "t.agent_id = %s AND t.kind IN ('user_message', 'assistant')", [agent_id]
    if start is not None:
        sql, params = sql + " AND t.created_at >= %s", [*params, start]
    if end is not None:
        sql, params = sql + " AND t.created_at < %s", [*params, end]
    return sql, params
