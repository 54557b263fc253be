"""Rows kept as JSON and put back exactly as they were: the same ids, times, flags and vectors (a
rewind keeps what it removes this way until a person confirms, agents/history/rewind.py).

PostgreSQL writes and reads the JSON itself (to_jsonb, jsonb_populate_recordset), so every column
goes through its own type's text form and comes back bit for bit; vectors are kept as lists."""

import json

from django.db import connection
from pgvector.django import VectorField


def _columns(model) -> list:
    """The columns an INSERT writes: the generated ones (search vectors) PostgreSQL makes again."""
    return [f for f in model._meta.concrete_fields if not getattr(f, "generated", False)]


def _loaded(value):
    return json.loads(value) if isinstance(value, str) else value


def rows_dump(model, *, ids) -> list[dict]:
    """The rows of these ids, oldest first, every column by its name."""
    ids = list(ids)
    if not ids:
        return []
    fields = _columns(model)
    columns = ", ".join(f.column for f in fields)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT to_jsonb(t) FROM (SELECT {columns} FROM {model._meta.db_table} WHERE id = ANY(%s) "
                       "ORDER BY id) t", [ids])
        rows = [_loaded(row[0]) for row in cursor.fetchall()]
    vectors = [f.column for f in fields if isinstance(f, VectorField)]
    for row in rows:
        for column in vectors:  # a vector's text form is a JSON array already
            if isinstance(row.get(column), str):
                row[column] = json.loads(row[column])
    return rows


def rows_restore(model, rows: list[dict]) -> int:
    """Insert the dumped rows again, under their own ids."""
    if not rows:
        return 0
    fields = _columns(model)
    vectors = [f.column for f in fields if isinstance(f, VectorField)]
    rows = [{**row, **{c: json.dumps(row[c], separators=(",", ":")) for c in vectors if row.get(c) is not None}}
            for row in rows]
    columns = ", ".join(f.column for f in fields)
    table = model._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM "
                       f"jsonb_populate_recordset(NULL::{table}, %s::jsonb)", [json.dumps(rows)])
        return cursor.rowcount
