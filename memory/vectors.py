"""One HNSW index per embedding model, over vectors of that model's native dimension.

The `embedding` columns are untyped `vector`s so that each model keeps its own dimension. An
index is partial (one model's rows) over `embedding::vector(dim)`; a query uses it by filtering
on the model and ordering by the same cast expression, as `nearest_sql` writes it.
"""

import hashlib
import re

from django.db import connection

VECTOR_TABLES = ("memory_passage", "memory_message")


def index_name(table: str, model: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", model.lower()).strip("_")[:24]
    digest = hashlib.sha1(model.encode()).hexdigest()[:8]
    return f"{table.removeprefix('memory_')}_hnsw_{slug}_{digest}"


def ensure_vector_indexes(model: str, dimensions: int, *, schema_editor=None) -> None:
    """Create (if missing) the HNSW indexes for `model` on passages and messages."""
    if not 1 <= dimensions <= 2000:
        raise ValueError(f"HNSW indexes take 1 to 2000 dimensions, not {dimensions}")
    literal = model.replace("'", "''")
    if schema_editor is None:
        with connection.cursor() as cursor:
            names = [index_name(table, model) for table in VECTOR_TABLES]
            cursor.execute("SELECT count(*) FROM pg_indexes WHERE indexname = ANY(%s)", [names])
            if cursor.fetchone()[0] == len(names):
                return  # the usual case; CREATE INDEX, even IF NOT EXISTS, would lock the tables
    statements = [
        f"CREATE INDEX IF NOT EXISTS {index_name(table, model)} ON {table} "
        f"USING hnsw ((embedding::vector({dimensions})) vector_cosine_ops) "
        f"WHERE embedding_model = '{literal}'"
        for table in VECTOR_TABLES
    ]
    if schema_editor is not None:
        for sql in statements:
            schema_editor.execute(sql)
        return
    with connection.cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def distance_sql(dimensions: int) -> str:
    """The ordering expression that the index of a model with `dimensions` serves."""
    return f"(embedding::vector({int(dimensions)})) <=> %s::vector({int(dimensions)})"
