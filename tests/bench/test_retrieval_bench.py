"""The retrieval benchmark (bench/retrieval.py) keeps working: its metrics on rankings worked out by
hand, and a slice of the conversation dataset loaded and searched the way the benchmark does it."""

import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from agents.services import agent_create
from memory.embeddings import get_embedder
from memory.models import Message
from tests.factories import make_user

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import retrieval  # noqa: E402


def test_recall_at_k_and_mrr_on_rankings_worked_out_by_hand():
    rankings = [
        [3, 1, 2],  # the gold row second
        [5, 6, 7],  # two evidence items (multi-hop), one found, third
        [*range(100, 154), 4],  # the gold row 55th: past the top 50, it counts for nothing
        [3, 1],  # an item met by any of its rows
    ]
    evidence = [[{1}], [{7}, {8}], [{4}], [{2, 3}]]

    assert [retrieval.recall_at(r, e, 1) for r, e in zip(rankings, evidence)] == [0, 0, 0, 1]
    assert [retrieval.recall_at(r, e, 5) for r, e in zip(rankings, evidence)] == [1, 0.5, 0, 1]
    assert [retrieval.reciprocal_rank(r, e) for r, e in zip(rankings, evidence)] == [0.5, 1 / 3, 0, 1]
    assert retrieval.scores(rankings, evidence) == pytest.approx(
        {"R@1": 25.0, "R@5": 62.5, "R@10": 62.5, "R@50": 62.5, "MRR": 100 * (0.5 + 1 / 3 + 1) / 4})


@pytest.mark.django_db
def test_a_slice_of_the_conversation_is_stored_and_searched_three_ways():
    full = retrieval.load_dataset("conversation")
    asked = retrieval.sample(full, 20).queries
    cited = {i for query in asked for item in query["evidence"] for i in item}
    texts = [t for n, t in enumerate(full.texts) if n < 80 or t["id"] in cited]
    by_id = {t["id"]: t for t in texts}
    # one question that is a stored message word for word: every search must rank it first
    verbatim = by_id[asked[0]["evidence"][0][0]]
    queries = [*asked, {"id": "verbatim", "query": verbatim["text"], "kind": "exact", "evidence": [[verbatim["id"]]]}]
    dataset = retrieval.Dataset("conversation", "recall", texts, queries, full.now)
    agent = agent_create(owner=make_user(), name="bench", persona="-", human="-")
    cached = retrieval.CachedEmbedder(get_embedder(agent.embedding_model), path=None)

    stored = retrieval.store(dataset, agent, cached)

    messages = Message.objects.filter(agent=agent, in_context=False, embedding__isnull=False).order_by("id")
    assert [(m.text, m.created_at) for m in messages] == [
        (t["text"], datetime.fromisoformat(t["created_at"])) for t in texts]
    assert [[{by_id[i]["text"] for i in item} for item in q["evidence"]] for q in queries] == [
        [{Message.objects.get(pk=row).text for row in item} for item in rows] for rows in stored.evidence]

    ours, seconds = retrieval.search_ours(dataset, agent)
    questions = [q["query"] for q in queries]
    rankings = {"ours": ours, "BM25": retrieval.search_bm25(stored, questions),
                "dense": retrieval.search_dense(stored, questions, cached)}
    assert len(seconds) == len(queries) and all(len(r) == len(queries) for r in rankings.values())
    for method, ranking in rankings.items():
        assert retrieval.recall_at(ranking[-1], stored.evidence[-1], 1) == 1, method
        assert all(0 <= value <= 100 for value in retrieval.scores(ranking, stored.evidence).values())
    with retrieval.clock(dataset.now):
        assert abs(timezone.now() - dataset.now) < timedelta(seconds=5)
