"""Vector search latency with the HNSW index against an exact scan, and the index's recall@10:
pgvector's and Milvus Lite's, side by side.

    .venv/bin/python bench/search.py [--sizes 10000 100000] [--queries 100] [--data random clustered]
                                     [--stores pgvector milvus]

Unit vectors of 384 dimensions (all-MiniLM-L6-v2's size) are loaded with binary COPY into one
agent's archival memory under a model name of their own, so they get their own partial HNSW index.
Queries are the app's own nearest-neighbour query (memory.search: the agent's scope, the cast
expression the index serves, the same hnsw settings), run once as the planner likes it (the index)
and once with index scans off (an exact scan).

Two data sets: "random" (uniform random unit vectors and random queries) has no structure at all,
every point nearly as far as any other, the worst case for HNSW; "clustered" (1,000 topics with
noise, queries near stored passages) is shaped more like real embeddings. Neither is made of real
MiniLM embeddings of texts: embedding 100,000 texts takes too long on two CPUs.

Milvus Lite (ARCHIVAL_VECTOR_STORE=milvus, memory/milvus.py): the same passages are copied from
PostgreSQL the way the app copies them (memory.milvus.passages_upsert), flushed and indexed (HNSW,
M=16, efConstruction=64, as pgvector's index), and queried through memory.milvus.nearest, the
app's own call (the agent's documents looked up in PostgreSQL, then one search over gRPC to the
Milvus Lite server on its unix socket, ef=200). Recall is against the same exact scan. Milvus Lite
is the project's own server process (playground/embedded.py), or the server MILVUS_URI names; the
bench's collections are its own and dropped at the end.

Time on two CPUs: about 11 minutes per data set at 100,000 passages, most of it Milvus Lite's copy
(~65 s) and index build (~4.5 min); `--sizes 100000 --data clustered` is the short comparison,
`--stores pgvector` leaves Milvus out.
"""

import argparse
import os
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


def milvus_start() -> bool:
    """Milvus Lite of the data directory, unless MILVUS_URI names a server; whether it was started here."""
    from django.conf import settings

    from playground import embedded

    settings.MILVUS_COLLECTION_PREFIX = "bench"
    if embedded.milvus_server_uri(os.environ.get("MILVUS_URI", "")):
        return False
    return "milvus" in embedded.ensure_running(settings.EMBEDDED, postgres=False, redis=False, milvus=True)


def measure_milvus(agent, kind: str, size: int, queries: np.ndarray, truth: list[list[int]]) -> tuple[list[str], tuple]:
    """Copy the loaded passages into Milvus, index them, time the app's query: a table row and the
    latencies."""
    from memory import milvus
    from memory.models import Passage
    from memory.search import PassageScope

    milvus.collections_drop()
    ids = list(Passage.objects.filter(embedding_model=MODEL).order_by("pk").values_list("pk", flat=True))
    started = time.perf_counter()
    milvus.passages_upsert(ids=ids)
    copied = time.perf_counter() - started
    started = time.perf_counter()
    [name] = milvus.collections()
    # what Milvus Lite does by itself in the background after a flush, done here before timing
    milvus.client().flush(name)
    milvus.client().release_collection(name)
    milvus.client().load_collection(name)
    print(f"{kind} {size:,}: Milvus copy {copied:.1f} s, flush and HNSW build {time.perf_counter() - started:.1f} s",
          flush=True)

    scope = PassageScope(agent_id=agent.pk)

    def search(query: np.ndarray) -> list[int]:
        return [i for i, _ in milvus.nearest(scope=scope, model=MODEL, vector=query.tolist(), limit=K, min_similarity=-1.0)]

    for query in queries[:5]:  # warm the caches
        search(query)
    times, found = [], []
    for query in queries:
        started = time.perf_counter()
        found.append(search(query))
        times.append(time.perf_counter() - started)
    milvus.collections_drop()
    row = [kind, f"{size:,}", "Milvus Lite HNSW ef=200", f"{median(times) * 1000:.2f}",
           f"{percentile(times, 0.95) * 1000:.2f}", f"{recall(found, truth):.3f}"]
    return row, (times, recall(found, truth))


def measure(agent, kind: str, size: int, count: int, rng: np.random.Generator,
            stores: list[str]) -> tuple[list[list[str]], tuple, tuple | None]:
    """Load `size` passages, build their index, time the queries both ways (and through Milvus): table
    rows and ratios."""
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
        rows.append([kind, f"{size:,}", f"pgvector HNSW ef_search={ef_search}", f"{median(times) * 1000:.2f}",
                     f"{percentile(times, 0.95) * 1000:.2f}", f"{recall(found, truth):.3f}"])
    rows.append([kind, f"{size:,}", "pgvector exact scan", f"{median(exact_times) * 1000:.2f}",
                 f"{percentile(exact_times, 0.95) * 1000:.2f}", "1.000"])
    ratios = (kind, size, median(exact_times) / median(times), percentile(exact_times, 0.95) / percentile(times, 0.95),
              recall(found, truth))
    against_milvus = None
    if "milvus" in stores:
        row, (milvus_times, milvus_recall) = measure_milvus(agent, kind, size, queries, truth)
        rows.append(row)
        against_milvus = (kind, size, median(milvus_times) / median(times),
                          percentile(milvus_times, 0.95) / percentile(times, 0.95), milvus_recall, recall(found, truth))
    return rows, ratios, against_milvus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--data", nargs="+", choices=["random", "clustered"], default=["random", "clustered"])
    parser.add_argument("--stores", nargs="+", choices=["pgvector", "milvus"], default=["pgvector", "milvus"],
                        help="pgvector is always measured (its exact scan is the truth); milvus beside it")
    args = parser.parse_args()
    setup_django()
    started_milvus = "milvus" in args.stores and milvus_start()

    from django.contrib.auth import get_user_model

    from agents.models import Agent
    from memory.models import Passage

    rng = np.random.default_rng(2310)
    owner = get_user_model().objects.create_user(username=f"bench-{time.time_ns()}")
    agent = Agent.objects.create(owner=owner, name="bench", system="", embedding_model=MODEL)
    rows, ratios, against_milvus = [], [], []
    try:
        for kind in args.data:
            for size in args.sizes:
                new_rows, new_ratios, new_against = measure(agent, kind, size, args.queries, rng, args.stores)
                rows += new_rows
                ratios.append(new_ratios)
                against_milvus += [new_against] if new_against else []
    finally:
        Passage.objects.filter(embedding_model=MODEL).delete()
        drop_index()
        owner.delete()
        if started_milvus:
            from django.conf import settings

            from playground import embedded

            embedded.stop_milvus(settings.EMBEDDED)

    print(f"\n{args.queries} queries per row, top {K}, one agent's archival memory, {DIMENSIONS} dimensions\n")
    print(table(["data", "passages", "plan", "p50 ms", "p95 ms", f"recall@{K}"], rows))
    print("\nratios, exact scan / HNSW (ef_search=200): " + "; ".join(
        f"{kind} {size:,}: p50 x{p50:.1f}, p95 x{p95:.1f}, recall@{K} {rec:.3f}" for kind, size, p50, p95, rec in ratios))
    if against_milvus:
        print("ratios, Milvus Lite / pgvector HNSW (both ef=200): " + "; ".join(
            f"{kind} {size:,}: p50 x{p50:.1f}, p95 x{p95:.1f}, recall@{K} {rec:.3f} against {pg_rec:.3f}"
            for kind, size, p50, p95, rec, pg_rec in against_milvus))


if __name__ == "__main__":
    main()
