import random
import re

import pytest
from django.db import connection

from memory.models import Passage
from memory.search import PassageScope
from memory.selectors import memory_counts, passage_list
from memory.vectors import distance_sql, index_name
from tests.factories import make_agent, make_message, make_passage

MODEL, DIMENSIONS = "local/all-MiniLM-L6-v2", 384


def random_unit_vector(rng: random.Random, dimensions: int) -> list[float]:
    vector = [rng.gauss(0, 1) for _ in range(dimensions)]
    norm = sum(x * x for x in vector) ** 0.5
    return [x / norm for x in vector]


@pytest.mark.django_db
def test_nearest_neighbour_query_uses_the_models_hnsw_index():
    agent = make_agent()
    rng = random.Random(7)
    Passage.objects.bulk_create(
        Passage(owner=agent.owner, agent=agent, text=f"passage {i}", embedding=random_unit_vector(rng, DIMENSIONS),
                embedding_model=MODEL)
        for i in range(3000)
    )
    query = random_unit_vector(rng, DIMENSIONS)
    sql = (f"SELECT id FROM memory_passage WHERE embedding_model = %s ORDER BY {distance_sql(DIMENSIONS)} LIMIT 10")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE memory_passage")
        cursor.execute("EXPLAIN " + sql, [MODEL, str(query)])
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute(sql, [MODEL, str(query)])
        found = [row[0] for row in cursor.fetchall()]

    assert f"Index Scan using {index_name('memory_passage', MODEL)}" in plan, plan
    assert len(found) == 10


@pytest.mark.django_db
def test_vectors_keep_their_native_dimension():
    agent = make_agent()
    rng = random.Random(1)
    make_passage(agent, text="small", embedding=random_unit_vector(rng, 8), embedding_model="test/eight")
    make_passage(agent, text="native", embedding=random_unit_vector(rng, 384), embedding_model=MODEL)
    with connection.cursor() as cursor:
        cursor.execute("SELECT embedding_model, vector_dims(embedding) FROM memory_passage ORDER BY id")
        assert cursor.fetchall() == [("test/eight", 8), (MODEL, 384)]


@pytest.mark.django_db
def test_counting_an_agents_archival_memory_scans_no_other_passages():
    """The count in every prompt's memory metadata reads the agent's own passages and its sources'
    through their indexes, never the whole table (it once did, ~9 ms at 20,000 passages)."""
    agent, other = make_agent(), make_agent()
    Passage.objects.bulk_create(Passage(owner=other.owner, agent=other, text=f"other {i}") for i in range(2000))
    Passage.objects.bulk_create(Passage(owner=agent.owner, agent=agent, text=f"own {i}") for i in range(3))
    queryset = passage_list(scope=PassageScope(agent_id=agent.pk))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE memory_passage")
        cursor.execute("SET LOCAL enable_seqscan = off")  # as on a big table
        sql, params = queryset.query.sql_with_params()
        cursor.execute("EXPLAIN ANALYZE SELECT COUNT(*) FROM (" + sql + ") AS counted", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert sum(int(n) for n in re.findall(r"Rows Removed by Filter: (\d+)", plan)) == 0, plan  # no other agent's row read
    assert memory_counts(agent_id=agent.pk) == (0, 3)
    make_message(agent, text="hi")
    make_message(agent, role="system", kind="summary", text="s")
    assert memory_counts(agent_id=agent.pk) == (1, 3)  # summaries are not counted as recall memory
