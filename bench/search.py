"""Vector search latency with the HNSW index against an exact scan, and the index's recall@10.

    .venv/bin/python bench/search.py [--sizes 10000 100000] [--queries 100] [--data random clustered]

Unit vectors of 384 dimensions (all-MiniLM-L6-v2's size) are loaded with binary COPY into one
agent's archival memory under a model name of their own, so they get their own partial HNSW index.
Queries are the app's own nearest-neighbour query (memory.search: the agent's scope, the cast
expression the index serves, the same hnsw settings), run once as the planner likes it (the index)
and once with index scans off (an exact scan).

Two data sets: "random" (uniform random unit vectors and random queries) has no structure at all,
every point nearly as far as any other, the worst case for HNSW; "clustered" (1,000 topics with
noise, queries near stored passages) is shaped more like real embeddings.
"""

import argparse
import time

import numpy as np

from common import median, percentile, setup_django, table

MODEL, DIMENSIONS = "bench/random-384", 384
K = 10


def unit_vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    vectors = rng.standard_normal((n, DIMENSIONS), dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def dataset(kind: str, rng: np.random.Generator, n: int, queries: int) -> tuple[np.ndarray, np.ndarray]:
    """(passages, queries) of one kind."""
    if kind == "random":
        return unit_vectors(rng, n), unit_vectors(rng, queries)
    topics = unit_vectors(rng, 1000)
    data = topics[rng.integers(0, len(topics), n)] + 0.08 * rng.standard_normal((n, DIMENSIONS), dtype=np.float32)
    data /= np.linalg.norm(data, axis=1, keepdims=True)
    near = data[rng.integers(0, n, queries)] + 0.05 * rng.standard_normal((queries, DIMENSIONS), dtype=np.float32)
    return data, near / np.linalg.norm(near, axis=1, keepdims=True)


def load(agent, vectors: np.ndarray) -> None:
    from django.db import connection
    from django.utils import timezone
    from pgvector.psycopg import register_vector

    connection.ensure_connection()
    register_vector(connection.connection)
    now = timezone.now()
    columns = ["owner_id", "agent_id", "text", "tags", "embedding", "embedding_model", "created_at"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT column_name, udt_name FROM information_schema.columns WHERE table_name = 'memory_passage'")
        types = dict(cursor.fetchall())  # binary COPY wants each column's exact type (auth_user's id is an int4)
        with cursor.cursor.copy(f"COPY memory_passage ({', '.join(columns)}) FROM STDIN WITH (FORMAT BINARY)") as copy:
            copy.set_types([types[c].removeprefix("_") + "[]" if types[c].startswith("_") else types[c] for c in columns])
            for i, vector in enumerate(vectors):
                copy.write_row([agent.owner_id, agent.pk, f"passage {i}", [], vector, MODEL, now])


def nearest_sql(agent_id: int) -> tuple[str, list]:
    from memory.search import PassageScope
    from memory.vectors import distance_sql

    scope_sql, scope_params = PassageScope(agent_id=agent_id).sql()
    sql = (f"SELECT t.id FROM memory_passage t WHERE t.embedding_model = %s AND {scope_sql} "
           f"ORDER BY {distance_sql(DIMENSIONS)} LIMIT {K}")
    return sql, [MODEL, *scope_params]


def run_queries(agent_id: int, queries: np.ndarray, *, exact: bool, ef_search: int) -> tuple[list[float], list[list[int]], str]:
    from django.db import connection, transaction

    sql, params = nearest_sql(agent_id)
    # the distance's %s comes last in the SQL, after the scope's
    times, results = [], []
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL hnsw.iterative_scan = relaxed_order")
        cursor.execute(f"SET LOCAL hnsw.ef_search = {int(ef_search)}")
        if exact:
            cursor.execute("SET LOCAL enable_indexscan = off")
            cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN " + sql, [*params, str(queries[0].tolist())])
        plan = "\n".join(row[0] for row in cursor.fetchall())
        for query in queries:
            literal = str(query.tolist())
            started = time.perf_counter()
            cursor.execute(sql, [*params, literal])
            rows = cursor.fetchall()
            times.append(time.perf_counter() - started)
            results.append([row[0] for row in rows])
    return times, results, plan


def recall(found: list[list[int]], truth: list[list[int]]) -> float:
    return float(np.mean([len(set(f) & set(t)) / K for f, t in zip(found, truth)]))


def drop_index() -> None:
    from django.db import connection

    from memory.vectors import index_name

    with connection.cursor() as cursor:
        for table_name in ("memory_passage", "memory_message"):
            cursor.execute(f"DROP INDEX IF EXISTS {index_name(table_name, MODEL)}")


def measure(agent, kind: str, size: int, count: int, rng: np.random.Generator) -> tuple[list[list[str]], tuple]:
    """Load `size` passages, build their index, time the queries both ways: table rows and ratios."""
    from django.db import connection

    from memory.models import Passage
    from memory.vectors import ensure_vector_indexes, index_name

    Passage.objects.filter(embedding_model=MODEL).delete()
    drop_index()
    data, queries = dataset(kind, rng, size, count)
    started = time.perf_counter()
    load(agent, data)
    loaded = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:  # a bulk build after the load beats growing the index row by row
        cursor.execute("SET maintenance_work_mem = '512MB'")
        ensure_vector_indexes(MODEL, DIMENSIONS)
        cursor.execute("RESET maintenance_work_mem")
        cursor.execute("VACUUM ANALYZE memory_passage")
    print(f"{kind} {size:,}: COPY {loaded:.1f} s, HNSW build {time.perf_counter() - started:.1f} s", flush=True)

    run_queries(agent.pk, queries[:5], exact=False, ef_search=200)  # warm the caches
    exact_times, truth, plan = run_queries(agent.pk, queries, exact=True, ef_search=200)
    assert index_name("memory_passage", MODEL) not in plan, plan
    rows = []
    for ef_search in (40, 200):  # pgvector's default, and what memory.search sets
        times, found, plan = run_queries(agent.pk, queries, exact=False, ef_search=ef_search)
        assert f"Index Scan using {index_name('memory_passage', MODEL)}" in plan, plan
        rows.append([kind, f"{size:,}", f"HNSW ef_search={ef_search}", f"{median(times) * 1000:.2f}",
                     f"{percentile(times, 0.95) * 1000:.2f}", f"{recall(found, truth):.3f}"])
    rows.append([kind, f"{size:,}", "exact scan", f"{median(exact_times) * 1000:.2f}",
                 f"{percentile(exact_times, 0.95) * 1000:.2f}", "1.000"])
    ratios = (kind, size, median(exact_times) / median(times), percentile(exact_times, 0.95) / percentile(times, 0.95),
              recall(found, truth))
    return rows, ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--data", nargs="+", choices=["random", "clustered"], default=["random", "clustered"])
    args = parser.parse_args()
    setup_django()

    from django.contrib.auth import get_user_model

    from agents.models import Agent
    from memory.models import Passage

    rng = np.random.default_rng(2310)
    owner = get_user_model().objects.create_user(username=f"bench-{time.time_ns()}")
    agent = Agent.objects.create(owner=owner, name="bench", system="", embedding_model=MODEL)
    rows, ratios = [], []
    try:
        for kind in args.data:
            for size in args.sizes:
                new_rows, new_ratios = measure(agent, kind, size, args.queries, rng)
                rows += new_rows
                ratios.append(new_ratios)
    finally:
        Passage.objects.filter(embedding_model=MODEL).delete()
        drop_index()
        owner.delete()

    print(f"\n{args.queries} queries per row, top {K}, one agent's archival memory, {DIMENSIONS} dimensions\n")
    print(table(["data", "passages", "plan", "p50 ms", "p95 ms", f"recall@{K}"], rows))
    print("\nratios, exact scan / HNSW (ef_search=200): " + "; ".join(
        f"{kind} {size:,}: p50 x{p50:.1f}, p95 x{p95:.1f}, recall@{K} {rec:.3f}" for kind, size, p50, p95, rec in ratios))


if __name__ == "__main__":
    main()
