"""Archival vectors in Milvus (Milvus Lite from a file path, or a Milvus server URI), chosen by
ARCHIVAL_VECTOR_STORE=milvus. Words, ids and ownership stay in PostgreSQL.

(Stub: being built. The search calls `nearest` below when `enabled()`.)
"""

from django.conf import settings


def enabled() -> bool:
    return getattr(settings, "ARCHIVAL_VECTOR_STORE", "pgvector") == "milvus"


def nearest(*, scope, model: str, vector: list[float], limit: int, min_similarity: float) -> list[tuple[int, float]]:
    """The passages of `scope` (a memory.search.PassageScope) embedded with `model` nearest to
    `vector`: (passage id, cosine similarity), best first, at most `limit`, none below
    `min_similarity`."""
    raise NotImplementedError
