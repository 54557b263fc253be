"""Archival vectors in Milvus (Milvus Lite from a file path, or a Milvus server URI), chosen by
ARCHIVAL_VECTOR_STORE=milvus. Words, ids and ownership stay in PostgreSQL.

PostgreSQL stays the source of truth: each passage keeps its embedding there too (export and
`manage.py milvus_sync` read it). Milvus holds a copy of each vector keyed by passage id, beside
what a scope filters on (owner, agent, document, embedding model, tags, created_at), in one
collection per dimension. Writes reach Milvus once the PostgreSQL transaction has committed; when
Milvus cannot be reached then, the PostgreSQL write stands (search still finds the passage by its
words) and milvus_sync repairs the difference.

Which documents an agent reaches is not copied: it is read from PostgreSQL at each search, so
attaching or detaching a source, or a document finishing, counts at once.
"""

import json
import logging
import os
import re
import threading
from collections.abc import Callable, Iterable
from datetime import datetime

from django.conf import settings
from django.db import transaction

from memory.models import Document, Passage

logger = logging.getLogger(__name__)

# as pgvector's indexes (memory/vectors.py) are built and searched (memory/search.py)
HNSW = {"M": 16, "efConstruction": 64}
EF_SEARCH = 200
BATCH = 1000
TAGS_MAX = 4096  # Milvus's largest array; the API takes 100 tags of 100 characters
COPIED = ("id", "embedding", "owner_id", "agent_id", "document_id", "embedding_model", "tags", "created_at")


def enabled() -> bool:
    return getattr(settings, "ARCHIVAL_VECTOR_STORE", "pgvector") == "milvus"


# --- the connection and the collections ------------------------------------------------------

_clients: dict = {}
_importing = threading.Lock()


def _pymilvus():
    """pymilvus, imported only where Milvus is used (it takes a second, which a playground on
    pgvector need not pay). It reads MILVUS_URI as it is imported and refuses all but
    http(s)://host, so Milvus Lite's path or a unix: socket would stop the import: it is imported
    with that variable hidden (our own settings have read it already)."""
    with _importing:
        hidden = os.environ.pop("MILVUS_URI", None)
        try:
            import pymilvus
        finally:
            if hidden is not None:
                os.environ["MILVUS_URI"] = hidden
    return pymilvus


def _unreachable() -> tuple[type[Exception], ...]:
    """What a Milvus that is down or unreachable raises."""
    import grpc

    return _pymilvus().MilvusException, grpc.RpcError


def client():
    """One client per process (it is thread-safe), made at first use: gRPC reconnects by itself
    when the server comes back."""
    uri = settings.MILVUS_URI
    if uri not in _clients:
        _clients[uri] = _pymilvus().MilvusClient(uri=uri, token=settings.MILVUS_TOKEN, timeout=settings.MILVUS_TIMEOUT)
    return _clients[uri]


def _name(dimensions: int) -> str:
    return f"{settings.MILVUS_COLLECTION_PREFIX}_passages_{dimensions}"


def collections() -> list[str]:
    """This playground's collections (another prefix's are another playground's)."""
    pattern = re.compile(re.escape(settings.MILVUS_COLLECTION_PREFIX) + r"_passages_\d+")
    return [name for name in client().list_collections() if pattern.fullmatch(name)]


def _collection(dimensions: int, *, create: bool) -> str | None:
    """The collection of vectors of that dimension, or None if there is none (`create`: made).
    Asked of Milvus each time (1 ms on Milvus Lite), not remembered: another process may drop it."""
    name = _name(dimensions)
    milvus = client()
    if not milvus.has_collection(name):
        if not create:
            return None
        try:
            milvus.create_collection(name, schema=_schema(dimensions), index_params=_index())
        except _unreachable()[0]:
            if not milvus.has_collection(name):  # else another process made it meanwhile
                raise
    return name


def _schema(dimensions: int):
    DataType = _pymilvus().DataType
    schema = _pymilvus().MilvusClient.create_schema(auto_id=False)
    schema.add_field("id", DataType.INT64, is_primary=True)  # the passage's
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dimensions)
    schema.add_field("owner_id", DataType.INT64)
    schema.add_field("agent_id", DataType.INT64)  # 0: a document's chunk
    schema.add_field("document_id", DataType.INT64)  # 0: an agent's own passage
    schema.add_field("model", DataType.VARCHAR, max_length=200)
    schema.add_field("tags", DataType.ARRAY, element_type=DataType.VARCHAR, max_capacity=TAGS_MAX, max_length=100)
    schema.add_field("created_at", DataType.INT64)  # microseconds since the epoch
    return schema


def _index():
    params = _pymilvus().MilvusClient.prepare_index_params()
    params.add_index(field_name="vector", index_type="HNSW", metric_type="COSINE", params=HNSW)
    return params


def collections_drop() -> None:
    """Drop this playground's collections (tests; or before a milvus_sync that starts afresh)."""
    for name in collections():
        client().drop_collection(name)


# --- search ----------------------------------------------------------------------------------


def nearest(*, scope, model: str, vector: list[float], limit: int, min_similarity: float) -> list[tuple[int, float]]:
    """The passages of `scope` (a memory.search.PassageScope) embedded with `model` nearest to
    `vector`: (passage id, cosine similarity), best first, at most `limit`, none below
    `min_similarity`. When Milvus cannot be reached: none, with a warning (search goes on by words)."""
    try:
        name = _collection(len(vector), create=False)
        if name is None:
            return []
        [hits] = client().search(name, data=[list(vector)], filter=scope_filter(scope, model), limit=limit,
                                 output_fields=["id"], search_params={"metric_type": "COSINE",
                                                                      "params": {"ef": max(EF_SEARCH, limit)}})
    except _unreachable() as error:
        logger.warning("Milvus is not reachable, archival search goes by words alone: %s", error)
        return []
    return [(hit["id"], hit["distance"]) for hit in hits if hit["distance"] >= min_similarity]


def scope_filter(scope, model: str) -> str:
    """The scope as a Milvus filter expression: the same rows as PassageScope.sql() and .q()."""
    conditions = [f"model == {_quoted(model)}"]
    if scope.agent_id is not None:
        agent = int(scope.agent_id)
        documents = list(Document.objects.filter(source__agents=agent, status=Document.Status.DONE)
                         .values_list("pk", flat=True))
        conditions.append(f"(agent_id == {agent} or document_id in {documents})" if documents else f"agent_id == {agent}")
    else:
        conditions.append(f"owner_id == {int(scope.owner_id)}")
    if scope.tags:
        tags = "[" + ", ".join(_quoted(tag) for tag in scope.tags) + "]"
        conditions.append(f"array_contains_{'all' if scope.all_tags else 'any'}(tags, {tags})")
    if scope.start is not None:
        conditions.append(f"created_at >= {_micros(scope.start)}")
    if scope.end is not None:
        conditions.append(f"created_at < {_micros(scope.end)}")
    return " and ".join(conditions)


def _quoted(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # Milvus reads C-style escapes in double quotes


def _micros(moment: datetime) -> int:
    return round(moment.timestamp() * 1_000_000)


# --- writes, after PostgreSQL's commit ---------------------------------------------------------


def passages_upsert_later(*, ids: Iterable[int]) -> None:
    """Copy these passages into Milvus once the current transaction commits (at once outside one)."""
    ids = list(ids)
    if enabled() and ids:
        _after_commit(lambda: passages_upsert(ids=ids), f"{len(ids)} passages not copied")


def passages_delete_later(*, ids: Iterable[int] = (), document_ids: Iterable[int] = (), agent_id: int | None = None) -> None:
    """Remove from Milvus, once the current transaction commits, these passages, the passages of
    these documents, or an agent's own passages (those PostgreSQL deleted with it)."""
    if not enabled():
        return
    ids, document_ids = [int(i) for i in ids], [int(i) for i in document_ids]
    conditions = [f"id in {ids}"] if ids else []
    conditions += [f"document_id in {document_ids}"] if document_ids else []
    conditions += [f"agent_id == {int(agent_id)}"] if agent_id is not None else []
    if conditions:
        expression = " or ".join(conditions)
        _after_commit(lambda: _delete(expression), f"passages ({expression}) not removed")


def _after_commit(work: Callable[[], None], lost: str) -> None:
    def run() -> None:
        try:
            work()
        except _unreachable() as error:
            logger.warning("Milvus is not reachable: %s; manage.py milvus_sync repairs that (%s)", lost, error)

    # robust: whatever else Milvus raises is logged too, and never undoes or fails the committed write
    transaction.on_commit(run, robust=True)


def passages_upsert(*, ids: list[int]) -> int:
    """Copy these passages, as PostgreSQL holds them now, into Milvus; returns how many."""
    copied = 0
    names: dict[int, str] = {}  # by dimension
    for start in range(0, len(ids), BATCH):
        rows = Passage.objects.filter(pk__in=ids[start:start + BATCH], embedding__isnull=False).values(*COPIED)
        by_collection: dict[str, list[dict]] = {}
        for row in rows:
            vector = [float(x) for x in row["embedding"]]
            if len(vector) not in names:
                names[len(vector)] = _collection(len(vector), create=True)
            by_collection.setdefault(names[len(vector)], []).append({
                "id": row["id"], "vector": vector, "owner_id": row["owner_id"], "agent_id": row["agent_id"] or 0,
                "document_id": row["document_id"] or 0, "model": row["embedding_model"], "tags": row["tags"],
                "created_at": _micros(row["created_at"])})
        for name, batch in by_collection.items():
            client().upsert(name, batch)
            copied += len(batch)
    return copied


def _delete(expression: str) -> None:
    for name in collections():
        client().delete(name, filter=expression)


# --- repair ------------------------------------------------------------------------------------


def milvus_ids() -> dict[int, str]:
    """Every passage id in Milvus, with its collection."""
    found = {}
    for name in collections():
        batches = client().query_iterator(name, batch_size=BATCH * 10, output_fields=["id"])
        while batch := batches.next():
            found.update((row["id"], name) for row in batch)
        batches.close()
    return found


def sync(*, rewrite: bool = False) -> dict[str, int]:
    """Make Milvus hold exactly PostgreSQL's passages: the missing are copied, the extra removed
    (`rewrite`: every passage is copied again, as after a change Milvus did not hear of). Returns
    {"passages": how many PostgreSQL holds, "added": how many were copied, "removed"}."""
    held = milvus_ids()
    stored = set(Passage.objects.filter(embedding__isnull=False).values_list("pk", flat=True))
    extra: dict[str, list[int]] = {}
    for passage_id, name in held.items():
        if passage_id not in stored:
            extra.setdefault(name, []).append(passage_id)
    for name, ids in extra.items():
        for start in range(0, len(ids), BATCH):
            client().delete(name, ids=ids[start:start + BATCH])
    added = passages_upsert(ids=sorted(stored if rewrite else stored - held.keys()))
    return {"passages": len(stored), "added": added, "removed": sum(len(ids) for ids in extra.values())}
