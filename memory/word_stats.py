"""BM25's statistics, counted ahead for a large memory.

BM25 needs, for each query word, the number of rows that hold it. Counted at query time over every
matching row, that is exact and fast while the rows in scope are few; at 100,000 passages a common
word matches tens of thousands of them, and reading those takes hundreds of milliseconds. So from
SEARCH_COUNTED_STATS_ROWS rows of an owner's on, search reads the counts from here (WordStats,
WordCount: per owner and table, as Lucene keeps them per index rather than per query), scores only
the rows that hold the query's rarer words (as many as make up CANDIDATE_BUDGET rows by those
counts, at most CANDIDATE_CAP rows), and asks for a recount when the counts are older than
SEARCH_STATS_MAX_AGE_SECONDS. A recount is one Celery task per owner and table at a time; words
met since are counted as rare (in one row).
"""

from django.conf import settings
from django.db import connection, transaction

from memory import embedding_queue

CANDIDATE_BUDGET = 1_000
CANDIDATE_CAP = 2_000


def _owner_scope(owner_id: int, table: str) -> tuple[str, list]:
    from memory.search import MessageScope, PassageScope

    scope = PassageScope(owner_id=owner_id) if table == PassageScope.table else MessageScope(owner_id=owner_id)
    return scope.sql()


def recount(*, owner_id: int, table: str) -> None:
    """Count the owner's rows, their words, and the rows that hold each word, anew."""
    scope_sql, params = _owner_scope(owner_id, table)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            f'INSERT INTO memory_wordstats (owner_id, "table", rows, words, counted_at) '
            f"SELECT %s, %s, count(*), coalesce(sum(length(t.search_vector)), 0), now() FROM {table} t WHERE {scope_sql} "
            f'ON CONFLICT (owner_id, "table") DO UPDATE SET rows = excluded.rows, words = excluded.words, '
            f"counted_at = excluded.counted_at RETURNING id", [owner_id, table, *params])
        stats_id = cursor.fetchone()[0]
        cursor.execute("DELETE FROM memory_wordcount WHERE stats_id = %s", [stats_id])
        cursor.execute(
            f"INSERT INTO memory_wordcount (stats_id, word, rows) SELECT %s, word, count(*) "
            f"FROM {table} t, unnest(tsvector_to_array(t.search_vector)) word WHERE {scope_sql} GROUP BY word",
            [stats_id, *params])


def recount_soon(*, owner_id: int, table: str) -> None:
    """Queue a recount, unless one was queued in the last minute."""
    from memory.tasks import count_words

    key = f"{settings.CELERY_TASK_DEFAULT_QUEUE}:word-stats:{table}:{owner_id}"
    if embedding_queue.client(settings.REDIS_URL).set(key, 1, nx=True, ex=60):
        count_words.delay(owner_id, table)
