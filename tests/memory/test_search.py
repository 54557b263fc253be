"""Hybrid search on PostgreSQL: full-text and pgvector, fused; each alone misses what the other finds."""

import random
import time
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from django.db import connection

from memory.models import Document, Message, Passage, Source
from memory.search import MessageScope, PassageScope
from memory.selectors import message_list, message_search, passage_list, passage_search
from memory.services import messages_append, passage_insert
from tests.factories import make_agent, make_message, make_passage

MODEL = "local/all-MiniLM-L6-v2"
TARGET = "7f3c9d2e-41b8-4c5a-9e07-d2a16b3f8c51"
TARGET_NOTE = ("Notes from Tuesday's planning meeting: we went over the roadmap, the hiring plan and next year's budget. "
               f"The key rotation ticket is {TARGET}; Maria follows up with the security team.")


def insert(agent, text: str) -> Passage:
    return passage_insert(owner_id=agent.owner_id, agent_id=agent.pk, text=text, embedding_model=MODEL)


def ranks(passages: list[Passage]) -> list[str]:
    return [p.text for p in passages]


@pytest.fixture
def archive(archival_store):
    """An agent's archival memory, its vectors in pgvector, then in Milvus."""
    agent = make_agent()
    rng = random.Random(2310)
    for _ in range(30):
        insert(agent, f"Reference number {uuid.UUID(int=rng.getrandbits(128), version=4)}.")
    insert(agent, TARGET_NOTE)
    insert(agent, "The quarterly revenue grew by five percent thanks to strong sales in Europe.")
    for text in ["My cat sleeps on the sofa all afternoon.", "We hiked up the mountain trail at dawn.",
                 "The recipe needs two cups of flour and an egg.", "Python lists keep their items in order."]:
        insert(agent, text)
    return agent


def search(agent, query: str, mode: str, page_size: int = 10) -> list[str]:
    passages, _ = passage_search(scope=PassageScope(agent_id=agent.pk), embedding_models=[MODEL], query=query, mode=mode,
                                 page_size=page_size)
    return ranks(passages)


def test_an_exact_rare_token_is_found_by_hybrid_search_though_vectors_rank_it_low(archive):
    vector = search(archive, TARGET, "vector", page_size=40)
    assert len(vector) >= 10 and TARGET_NOTE not in vector[:10]  # other codes look more like it than a long note
    assert search(archive, TARGET, "fts") == [TARGET_NOTE]
    assert search(archive, TARGET, "hybrid")[:1] == [TARGET_NOTE]


def test_a_paraphrase_is_found_by_hybrid_search_though_full_text_misses_it(archive):
    target = "The quarterly revenue grew by five percent thanks to strong sales in Europe."
    query = "How did earnings change over the three-month period?"
    assert target not in search(archive, query, "fts")
    assert search(archive, query, "vector")[:1] == [target]
    assert search(archive, query, "hybrid")[:1] == [target]


def test_nothing_related_finds_nothing(archive):
    passages, ranked = passage_search(scope=PassageScope(agent_id=archive.pk), embedding_models=[MODEL],
                                      query="volcanic eruptions in Iceland")
    assert (passages, ranked.total, ranked.pages) == ([], 0, 1)


def test_words_match_by_stem_not_by_substring(archive):
    assert search(archive, "hiking mountains", "fts") == ["We hiked up the mountain trail at dawn."]
    assert search(archive, "ain", "fts") == []  # a substring of "mountain" is not a word of it


def test_pages_and_totals(archive):
    passages, ranked = passage_search(scope=PassageScope(agent_id=archive.pk), embedding_models=[MODEL],
                                      query="reference number", page=2, page_size=4, mode="fts")
    assert (ranked.total, ranked.pages, ranked.page, len(passages)) == (30, 8, 2, 4)


def test_search_stays_inside_the_agents_memory_and_its_attached_documents(archive):
    other = make_agent(owner=archive.owner)
    insert(other, "The secret launch code is swordfish.")
    assert search(archive, "secret launch code swordfish", "hybrid") == []  # nothing near enough, no word shared

    source = Source.objects.create(owner=archive.owner, name="manuals")
    document = Document.objects.create(owner=archive.owner, source=source, filename="manual.pdf", status="done")
    embedder_text = "Hold the reset button for ten seconds to restore factory settings."
    make_passage(document=document, text=embedder_text, page_start=4, page_end=4,
                 embedding=insert(other, embedder_text).embedding)
    assert embedder_text not in search(archive, "how do I factory reset", "hybrid")
    source.agents.add(archive)
    assert search(archive, "how do I factory reset", "hybrid")[:1] == [embedder_text]
    source.agents.remove(archive)
    assert embedder_text not in search(archive, "how do I factory reset", "hybrid")


def test_vectors_of_another_model_are_never_compared(archive):
    make_passage(archive, text="eight dimensional", embedding=[0.1] * 8, embedding_model="test/eight")
    assert "eight dimensional" not in search(archive, "eight dimensional", "vector", page_size=50)


@pytest.mark.django_db(transaction=True)
def test_recall_search_by_words_by_meaning_and_by_dates(celery_worker):
    agent = make_agent()
    said = ["I adopted a golden retriever puppy named Biscuit.", "My sister lives in Lisbon.",
            "Tomorrow I have a dentist appointment at nine.", "I prefer tea over coffee."]
    messages_append(agent_id=agent.pk, owner_id=agent.owner_id,
                    messages=[{"role": "user", "kind": "user_message", "content": t, "text": t} for t in said])
    deadline = time.monotonic() + 60
    while Message.objects.filter(agent=agent, embedding__isnull=True).exists():  # embedded by the worker
        assert time.monotonic() < deadline, "messages were not embedded in the background"
        time.sleep(0.1)

    def found(query, mode):
        messages, _ = message_search(scope=MessageScope(agent_id=agent.pk), embedding_models=[MODEL], query=query, mode=mode)
        return [m.text for m in messages]

    assert found("Biscuit", "hybrid")[:1] == [said[0]]
    assert found("what kind of dog do I have", "hybrid")[:1] == [said[0]]
    assert said[0] not in found("what kind of dog do I have", "fts")

    old = Message.objects.get(text=said[1])
    Message.objects.filter(pk=old.pk).update(created_at=datetime(2025, 3, 14, 10, tzinfo=timezone.utc))
    start = datetime(2025, 3, 14, tzinfo=timezone.utc)
    that_day = MessageScope(agent_id=agent.pk, start=start, end=start + timedelta(days=1))
    assert [m.text for m in message_list(scope=that_day)] == [said[1]]
    messages, _ = message_search(scope=that_day, embedding_models=[MODEL], query="sister")
    assert [m.text for m in messages] == [said[1]]
    messages, _ = message_search(scope=MessageScope(agent_id=agent.pk, start=start + timedelta(days=1)),
                                 embedding_models=[MODEL], query="sister")
    assert messages == []


def _ids_by_sql(scope) -> set[int]:
    sql, params = scope.sql()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT t.id FROM {scope.table} t WHERE {sql}", params)
        return {row[0] for row in cursor.fetchall()}


@pytest.mark.django_db
def test_a_scope_reaches_the_same_rows_through_its_sql_and_through_the_orm():
    agent = make_agent()
    other = make_agent(owner=agent.owner)
    stranger = make_agent()
    source = Source.objects.create(owner=agent.owner, name="manuals")
    source.agents.add(agent)
    done = Document.objects.create(owner=agent.owner, source=source, filename="done.pdf", status="done")
    parsing = Document.objects.create(owner=agent.owner, source=source, filename="parsing.pdf", status="parsing")
    own = make_passage(agent, "own", tags=["a", "b"])
    old = make_passage(agent, "old", tags=["a"])
    Passage.objects.filter(pk=old.pk).update(created_at=datetime(2024, 1, 1, tzinfo=timezone.utc))
    chunk = make_passage(text="chunk", document=done, tags=["b"])
    make_passage(text="unfinished", document=parsing)
    others = make_passage(other, "the other agent's", tags=["a"])
    make_passage(stranger, "someone else's", tags=["a"])
    since = datetime(2025, 1, 1, tzinfo=timezone.utc)

    expected = {
        PassageScope(agent_id=agent.pk): {own.pk, old.pk, chunk.pk},
        PassageScope(agent_id=agent.pk, start=since): {own.pk, chunk.pk},
        PassageScope(agent_id=agent.pk, tags=("a", "b"), all_tags=True): {own.pk},
        PassageScope(owner_id=agent.owner_id, tags=("a",)): {own.pk, old.pk, others.pk},
        PassageScope(owner_id=agent.owner_id, tags=("b",), end=since): set(),
    }
    for scope, ids in expected.items():
        assert _ids_by_sql(scope) == ids == set(passage_list(scope=scope).values_list("id", flat=True)), scope

    said, answered = make_message(agent, text="hi"), make_message(agent, role="assistant", kind="assistant", text="hello")
    make_message(agent, role="tool", kind="tool_result", text="ok")
    theirs = make_message(other, text="hey")
    Message.objects.filter(pk=said.pk).update(created_at=datetime(2024, 1, 1, tzinfo=timezone.utc))
    expected = {
        MessageScope(agent_id=agent.pk): [said.pk, answered.pk],
        MessageScope(agent_id=agent.pk, start=since): [answered.pk],
        MessageScope(owner_id=agent.owner_id, end=since): [said.pk],
        MessageScope(owner_id=agent.owner_id): [said.pk, answered.pk, theirs.pk],
    }
    for scope, ids in expected.items():
        assert _ids_by_sql(scope) == set(ids) and [m.pk for m in message_list(scope=scope)] == ids, scope
    with pytest.raises(ValueError):
        PassageScope(agent_id=agent.pk, owner_id=agent.owner_id)


@pytest.mark.django_db
def test_an_owners_passages_are_searched_across_their_agents_with_scores(archive):
    other = make_agent(owner=archive.owner)
    insert(other, "Nine planets used to circle the sun, until Pluto was demoted.")
    passages, ranked = passage_search(scope=PassageScope(owner_id=archive.owner_id), query="planets and Pluto")
    assert passages[0].text.startswith("Nine planets")
    assert ranked.scores[passages[0].pk] == max(ranked.scores.values()) > 0.5  # found by words and by meaning
    passages, _ = passage_search(scope=PassageScope(agent_id=archive.pk), embedding_models=[MODEL], query="planets and Pluto")
    assert not any(p.text.startswith("Nine planets") for p in passages)

