"""Archival memory and search over passages and messages, through the official SDK."""

from datetime import datetime, timedelta, timezone

import pytest
from letta_client import ConflictError, NotFoundError

from tests.factories import make_passage
from tests.fake_llm import tool_call
from tests.helpers import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

FACTS = [
    ("Ada's favourite board game is chess.", ["games"]),
    ("The office coffee machine is broken on Mondays.", ["office"]),
    ("Ada is allergic to peanuts.", ["health", "food"]),
]


@pytest.fixture
def live(live_archival):
    """Each test here twice: archival vectors in pgvector, then in Milvus."""
    return live_archival


@pytest.fixture
def agent(api):
    agent = api.sdk.agents.create(name="Sam", memory_blocks=[{"label": "human", "value": "Ada"}])
    for text, tags in FACTS:
        [passage] = api.sdk.agents.passages.create(agent.id, text=text, tags=tags)
        assert passage.text == text and passage.tags == tags and passage.id.startswith("passage-")
    return agent


def test_insert_list_search_and_delete(api, agent):
    listed = api.sdk.agents.passages.list(agent.id)
    assert [p.text for p in listed] == [text for text, _ in FACTS]
    assert [p.text for p in api.sdk.agents.passages.list(agent.id, ascending=False, limit=1)] == [FACTS[2][0]]
    assert [p.text for p in api.sdk.agents.passages.list(agent.id, search="coffee")] == [FACTS[1][0]]

    # by meaning: no word of the query is in the passage
    found = api.sdk.agents.passages.search(agent.id, query="which strategy game does she enjoy", top_k=1)
    assert found.count == 1 and found.results[0].content == FACTS[0][0]
    tagged = api.sdk.agents.passages.search(agent.id, query="Ada", tags=["food"])
    assert [r.content for r in tagged.results] == [FACTS[2][0]]

    api.sdk.agents.passages.delete(listed[1].id, agent_id=agent.id)
    assert [p.text for p in api.sdk.agents.passages.list(agent.id)] == [FACTS[0][0], FACTS[2][0]]
    with pytest.raises(NotFoundError):
        api.sdk.agents.passages.delete(listed[1].id, agent_id=agent.id)


def test_passage_search_over_one_agent_or_all(api, agent):
    other = api.sdk.agents.create(name="Max", memory_blocks=[])
    api.sdk.agents.passages.create(other.id, text="Max collects vintage chess clocks.", tags=["games"])

    mine = api.sdk.passages.search(agent_id=agent.id, query="chess")
    assert [hit.passage.text for hit in mine] == [FACTS[0][0]]
    everywhere = api.sdk.passages.search(query="chess", tags=["games"], limit=5)
    assert {hit.passage.text for hit in everywhere} == {FACTS[0][0], "Max collects vintage chess clocks."}
    assert all(hit.score > 0 for hit in everywhere)
    later = datetime.now(timezone.utc) + timedelta(minutes=5)
    assert api.sdk.passages.search(query="chess", start_date=later) == []
    newest = api.sdk.passages.search(agent_id=agent.id, limit=1)  # no query: the newest
    assert [hit.passage.text for hit in newest] == [FACTS[2][0]]


def test_message_search_by_words_meaning_agent_and_date(api, live_llm, agent):
    live_llm.enqueue(tool_call("send_message", {"message": "Chess it is, then."}))
    api.sdk.agents.messages.create(agent.id, input="Shall we play a board game tonight?")
    other = api.sdk.agents.create(name="Max", memory_blocks=[])
    live_llm.enqueue(tool_call("send_message", {"message": "Sure."}))
    api.sdk.agents.messages.create(other.id, input="Tell me about board games")

    words = api.sdk.messages.search(query="board game", search_mode="fts", agent_id=agent.id)
    assert [(m.message_type, m.content) for m in words] == [("user_message", "Shall we play a board game tonight?")]
    both = api.sdk.messages.search(query="board games", search_mode="fts")
    assert {m.agent_id for m in both} == {agent.id, other.id}
    # by meaning, once the worker has embedded the messages
    meaning = wait_until(lambda: api.sdk.messages.search(query="a strategy game with kings and pawns",
                                                         search_mode="vector", agent_id=agent.id, limit=1),
                         message="the messages to be embedded")
    assert meaning[0].content == "Chess it is, then."
    later = datetime.now(timezone.utc) + timedelta(minutes=5)
    assert api.sdk.messages.search(query="board game", start_date=later) == []


def test_a_folders_passages_cannot_be_deleted_through_the_agent(api, agent):
    from memory.models import Document, Source

    user = api.user
    source = Source.objects.create(owner=user, name="docs")
    document = Document.objects.create(owner=user, source=source, filename="a.txt", status="done")
    passage = make_passage(document=document, text="from a file")
    source.agents.add(int(agent.id.split("-")[1]))
    assert "from a file" in [p.text for p in api.sdk.agents.passages.list(agent.id)]
    with pytest.raises(ConflictError) as error:
        api.sdk.agents.passages.delete(f"passage-{passage.pk}", agent_id=agent.id)
    assert "a.txt" in error.value.body["detail"]
