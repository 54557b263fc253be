"""How search ranks: BM25 over words in PostgreSQL, the fusion by score, the days a query names."""

import math
import time
from datetime import datetime, timedelta, timezone

import pytest
from django.db import connection, transaction

from memory import embedding_queue, word_stats
from memory.models import Message, Passage, WordStats
from memory.search import B, DATE_BOOST, K1, WORD_WEIGHT, MessageScope, PassageScope, _word_hits, fuse
from memory.selectors import message_search, passage_search
from memory.services import passage_insert
from memory.when import Span
from tests.factories import make_agent, make_message, make_passage

AT = datetime(2025, 6, 18, 12, tzinfo=timezone.utc)


def words_ranked(scope, query: str) -> dict[int, float]:
    return {row_id: score for row_id, score, _ in _word_hits(scope, query)}


def bm25_by_hand(scope, query: str, statistics=None) -> dict[int, float]:
    """Okapi BM25 from each row's words as PostgreSQL parsed them, computed here in Python. A row
    matches if it holds every part of one of the query's words. Document frequencies are counted
    among the matching rows, or with `statistics` (the scope whose counts were made ahead) among
    all of its rows."""
    with connection.cursor() as cursor:
        words = []
        for word in query.split()[:32]:
            cursor.execute("SELECT tsvector_to_array(to_tsvector('english', %s))", [word])
            words.append(set(cursor.fetchone()[0]))
    rows = _rows_of(scope)
    lexemes = set().union(*words)
    matching = {row_id: counts for row_id, counts in rows.items() if any(w and w <= set(counts) for w in words)}
    every = matching if statistics is None else _rows_of(statistics)
    n = len(rows) if statistics is None else len(every)
    average = sum(map(len, every.values())) / len(every)
    scores = {}
    for row_id, counts in matching.items():
        score = 0.0
        for word in lexemes & set(counts):
            df = sum(word in other for other in every.values())
            idf = math.log(1 + (n - df + 0.5) / (df + 0.5))
            tf = counts[word]
            score += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * len(counts) / average))
        scores[row_id] = score
    return scores


def _rows_of(scope) -> dict[int, dict[str, int]]:
    """Each row's words, with how often each occurs."""
    sql, params = scope.sql()
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT t.id, (SELECT array_agg(ARRAY[u.lexeme, cardinality(u.positions)::text]) "
                       f"FROM unnest(t.search_vector) u) FROM {scope.table} t WHERE {sql}", params)
        return {row_id: {word: int(count) for word, count in pairs or []} for row_id, pairs in cursor.fetchall()}


@pytest.mark.django_db
def test_word_scores_are_okapi_bm25_over_the_rows_in_scope():
    agent = make_agent()
    texts = ["The pump hums when the pump is cold.", "A pump.", "The boiler and the pump share a valve.",
             "Pressure valve E42 trips at 3 bar.", "Nothing about it here.",
             "The pump, the pump, the pump: a long note about a pump and many other words besides these."]
    for text in texts:
        make_passage(agent, text)
    make_passage(make_agent(owner=agent.owner), "pump valve pump valve")  # another agent's: not in scope
    scope = PassageScope(agent_id=agent.pk)
    for query in ["pump", "pump valve", "E42 valve trips", "what trips the pressure valve?"]:
        ranked, expected = words_ranked(scope, query), bm25_by_hand(scope, query)
        assert ranked.keys() == expected.keys() and all(ranked[i] == pytest.approx(expected[i]) for i in ranked), query
        assert list(ranked) == sorted(ranked, key=lambda i: -ranked[i])


@pytest.mark.django_db
def test_bm25_weighs_rare_words_over_common_ones_short_rows_over_long_ones_and_saturates():
    agent = make_agent()
    rows = {text: make_passage(agent, text).pk for text in [
        "invoice paid", "invoice sent", "invoice lost", "invoice disputed", "refund approved", "invoice and refund"]}
    ranked = list(words_ranked(PassageScope(agent_id=agent.pk), "invoice refund"))
    # both words first; then "refund", rarer than "invoice", before any row with "invoice" alone
    assert ranked[:2] == [rows["invoice and refund"], rows["refund approved"]]

    lengths = make_agent()
    short = make_passage(lengths, "the boiler leaks").pk
    long = make_passage(lengths, "the boiler leaks, said the plumber, who came on a wet and windy Monday morning").pk
    scores = words_ranked(PassageScope(agent_id=lengths.pk), "leaks")
    assert scores[short] > scores[long]

    saturated = make_agent()
    once, many = make_passage(saturated, "alpha beta gamma").pk, make_passage(saturated, "alpha " * 30 + "beta gamma").pk
    scores = words_ranked(PassageScope(agent_id=saturated.pk), "alpha")
    # (the same distinct words, so the same length): thirty times the word is worth less than K1 + 1 times once
    assert scores[once] < scores[many] < (K1 + 1) * scores[once]


@pytest.mark.django_db
def test_an_identifier_is_found_exactly_among_look_alikes():
    agent = make_agent()
    ids = ["ORD-48213-K", "ORD-48213-J", "ORD-48218-K", "ORD-48213", "QRD-48213-K"]
    rows = {i: make_passage(agent, f"Order {i} was shipped to the customer by courier.").pk for i in ids}
    for wanted in ids:
        assert next(iter(words_ranked(PassageScope(agent_id=agent.pk), f"where is order {wanted}?"))) == rows[wanted]


def hits(*rows: tuple[int, float]) -> list[tuple[int, float, datetime]]:
    return [(row_id, score, AT) for row_id, score in rows]


def test_fusion_adds_the_word_score_over_the_best_and_the_similarity_scaled_over_the_candidates():
    words = hits((1, 8.0), (2, 4.0))
    vectors = [hits((3, 0.9), (2, 0.7), (4, 0.5))]
    fused = dict(fuse(words, vectors))
    assert fused == pytest.approx({
        1: WORD_WEIGHT * 1.0,
        2: WORD_WEIGHT * 0.5 + (1 - WORD_WEIGHT) * 0.5,
        3: (1 - WORD_WEIGHT) * 1.0,
        4: 0.0,
    })
    # of two embedding models, a row takes its better scaled similarity
    assert dict(fuse([], [hits((5, 0.9), (6, 0.1)), hits((6, 0.8), (5, 0.2))])) == pytest.approx(
        {5: 1 - WORD_WEIGHT, 6: 1 - WORD_WEIGHT})
    # ties go to the better word score
    assert [row_id for row_id, _ in fuse(hits((7, 2.0)), [hits((8, 0.9), (9, 0.5))])] == [7, 8, 9]


def test_fusion_boosts_rows_written_on_the_days_the_query_names():
    day = AT.date()
    words = [(1, 4.0, AT - timedelta(days=3)), (2, 3.0, AT)]
    fused = dict(fuse(words, [], [Span(day, day), Span(day - timedelta(days=7), day - timedelta(days=7), 0.5)]))
    assert fused[2] == pytest.approx(WORD_WEIGHT * 0.75 + DATE_BOOST) and fused[1] == pytest.approx(WORD_WEIGHT)
    week_before = [(3, 4.0, AT - timedelta(days=7))]
    assert dict(fuse(week_before, [], [Span(day, day), Span(day - timedelta(days=7), day - timedelta(days=7), 0.5)])) \
        == pytest.approx({3: WORD_WEIGHT + DATE_BOOST * 0.5})


@pytest.mark.django_db
def test_last_tuesday_finds_what_was_said_last_tuesday():
    from django.utils import timezone as django_timezone

    agent = make_agent()
    now = django_timezone.now()
    last_tuesday = now - timedelta(days=(now.weekday() - 1) % 7 or 7)
    said = {}
    for days_back in range(1, 15):
        when = now - timedelta(days=days_back)
        message = make_message(agent, text=f"We talked about the garden shed again; nothing settled ({days_back}).")
        Message.objects.filter(pk=message.pk).update(created_at=when)
        said[when.date()] = message.pk
    messages, _ = message_search(scope=MessageScope(agent_id=agent.pk), query="What did we say about the garden shed last Tuesday?",
                                 mode="fts")
    assert messages[0].pk == said[last_tuesday.date()]
    messages, _ = message_search(scope=MessageScope(agent_id=agent.pk), query="What did we say about the garden shed 3 days ago?",
                                 mode="fts")
    assert messages[0].pk == said[(now - timedelta(days=3)).date()]


@pytest.mark.django_db
def test_an_owners_search_across_agents_is_scored_and_paged_the_same_way():
    agent = make_agent()
    for n in range(12):
        make_passage(agent, f"Ticket {n}: the printer on floor {n} jams.")
    passages, ranked = passage_search(scope=PassageScope(owner_id=agent.owner_id), query="printer floor 7", mode="fts",
                                      page_size=5)
    assert passages[0].text == "Ticket 7: the printer on floor 7 jams."
    assert (ranked.total, ranked.pages, len(passages)) == (12, 3, 5)
    assert Passage.objects.filter(owner_id=agent.owner_id).count() == 12


@pytest.mark.django_db
@pytest.mark.parametrize("query, found", [
    ("it's O'Reilly's", True), (r"C:\temp\new", True), ("naïve café 東京", True), ("a & b | !c <-> d:*", True),
    ("'; DROP TABLE memory_passage; --", False), ("the of and", False), ("😀", False), ("x" * 3000, False)])
def test_any_query_text_is_only_words_to_search(query, found):
    agent = make_agent()
    make_passage(agent, "O'Reilly wrote about the naïve café in 東京 and C:\\temp\\new.")
    ranked = words_ranked(PassageScope(agent_id=agent.pk), query)
    assert bool(ranked) == found
    if found:
        assert ranked == pytest.approx(bm25_by_hand(PassageScope(agent_id=agent.pk), query))
    assert Passage.objects.filter(agent=agent).count() == 1


# --- large memories: word counts made ahead ------------------------------------------------------


@pytest.fixture
def counted(settings):
    """Every owner's memory counts as large: search reads word counts made ahead."""
    settings.SEARCH_COUNTED_STATS_ROWS = 1


@pytest.mark.django_db
def test_a_large_memory_is_scored_with_the_owners_counts_made_ahead(counted):
    agent = make_agent()
    other = make_agent(owner=agent.owner)
    for text in ["The pump hums when the pump is cold.", "A pump.", "The boiler and the pump share a valve.",
                 "Pressure valve E42 trips at 3 bar.", "Nothing about it here."]:
        make_passage(agent, text)
    make_passage(other, "pump valve pump valve, said the other agent")
    scope, owners = PassageScope(agent_id=agent.pk), PassageScope(owner_id=agent.owner_id)
    word_stats.recount(owner_id=agent.owner_id, table="memory_passage")
    stats = WordStats.objects.get(owner=agent.owner, table="memory_passage")
    assert (stats.rows, dict(stats.counts.filter(word__in=["pump", "valv"]).values_list("word", "rows"))) == (
        6, {"pump": 4, "valv": 3})
    for query in ["pump", "pump valve", "what trips the pressure valve?"]:
        ranked, expected = words_ranked(scope, query), bm25_by_hand(scope, query, statistics=owners)
        assert ranked.keys() == expected.keys() and all(ranked[i] == pytest.approx(expected[i]) for i in ranked), query

    # a word first written after the count is taken as rare, and found
    new = make_passage(agent, "The flange gasket was replaced.").pk
    assert list(words_ranked(scope, "flange")) == [new]
    # conversation is counted apart, per owner too
    said = make_message(agent, text="The pump again!").pk
    word_stats.recount(owner_id=agent.owner_id, table="memory_message")
    assert list(words_ranked(MessageScope(agent_id=agent.pk), "pump")) == [said]


@pytest.mark.django_db
def test_only_rows_holding_the_rarer_words_are_scored_in_a_large_memory(counted, monkeypatch):
    agent = make_agent()
    common = [make_passage(agent, f"Order {n} shipped.").pk for n in range(8)]
    rare = make_passage(agent, "Order 99 shipped with a dented lid.").pk
    word_stats.recount(owner_id=agent.owner_id, table="memory_passage")
    monkeypatch.setattr(word_stats, "CANDIDATE_BUDGET", 3)
    # "dent" and "lid" (one row each) make up the budget; "order" and "ship" (nine rows) are not probed
    assert list(words_ranked(PassageScope(agent_id=agent.pk), "dented lid order shipped")) == [rare]
    monkeypatch.setattr(word_stats, "CANDIDATE_BUDGET", 100)
    assert set(words_ranked(PassageScope(agent_id=agent.pk), "dented lid order shipped")) == {rare, *common}
    # the rarest word is always probed, however many rows hold it
    monkeypatch.setattr(word_stats, "CANDIDATE_BUDGET", 1)
    assert set(words_ranked(PassageScope(agent_id=agent.pk), "order")) == {rare, *common}


@pytest.mark.django_db(transaction=True)
def test_counts_are_made_when_a_memory_grows_large_and_made_again_when_old(celery_worker, settings):
    settings.SEARCH_COUNTED_STATS_ROWS = 3
    agent = make_agent()
    for n in range(2):
        make_passage(agent, f"Invoice {n} paid.")
    words_ranked(PassageScope(agent_id=agent.pk), "invoice")
    time.sleep(0.5)
    assert not WordStats.objects.filter(owner=agent.owner).exists()  # small: counted at query time
    make_passage(agent, "Invoice 3 paid.")
    words_ranked(PassageScope(agent_id=agent.pk), "invoice")
    stats = wait_for(lambda: WordStats.objects.filter(owner=agent.owner, table="memory_passage").first())
    assert stats.rows == 3

    make_passage(agent, "Invoice 4 disputed.")
    WordStats.objects.filter(pk=stats.pk).update(counted_at=stats.counted_at - timedelta(hours=1))
    _redis_forget(agent.owner_id)
    words_ranked(PassageScope(agent_id=agent.pk), "invoice")
    assert wait_for(lambda: WordStats.objects.get(pk=stats.pk).rows == 4)


def _redis_forget(owner_id: int) -> None:
    """Forget that a recount was queued in the last minute."""
    from django.conf import settings

    embedding_queue.client(settings.REDIS_URL).delete(
        f"{settings.CELERY_TASK_DEFAULT_QUEUE}:word-stats:memory_passage:{owner_id}")


def wait_for(check, seconds: float = 10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.05)
    raise AssertionError("not within time")


HEAT_PUMP = "The heat pump defrosts every forty minutes in winter."


def insert(agent, text: str) -> Passage:
    return passage_insert(owner_id=agent.owner_id, agent_id=agent.pk, text=text, embedding_model=agent.embedding_model)


@pytest.mark.django_db
def test_a_search_inside_a_transaction_finds_by_meaning_what_that_transaction_wrote():
    """Its vectors are searched on its own connection (elsewhere, beside the words, on another)."""
    agent = make_agent()
    with transaction.atomic():
        passage = insert(agent, HEAT_PUMP)
        passages, _ = passage_search(scope=PassageScope(agent_id=agent.pk), query="how often does it defrost", mode="vector")
        assert [p.pk for p in passages] == [passage.pk]


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_vectors_are_searched_beside_the_words():
    agent = make_agent()
    passage = insert(agent, HEAT_PUMP)
    insert(agent, "Invoices are sent on the first of the month.")
    for query, mode in [("how often does it defrost", "vector"), ("how often does it defrost", "hybrid"), ("invoices", "fts")]:
        passages, _ = passage_search(scope=PassageScope(agent_id=agent.pk), query=query, mode=mode)
        assert ([p.pk for p in passages][:1] == [passage.pk]) == (query != "invoices"), (query, mode)
