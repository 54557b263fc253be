"""Archival vectors in Milvus Lite (a real server process, memory/milvus.py): the scope filters reach
the same passages as PostgreSQL's, and every write keeps Milvus consistent with PostgreSQL."""

import logging
import os
import stat
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from agents.services import agent_delete
from memory import milvus
from memory.models import Document, Passage, Source
from memory.search import PassageScope
from memory.selectors import passage_list, passage_search
from memory.services import (
    document_delete,
    passage_delete,
    passage_insert,
    passages_insert_many,
    source_attach,
    source_delete,
    source_detach,
)
from playground import embedded
from tests.factories import make_agent, make_passage, unit_vector

MODEL = "local/all-MiniLM-L6-v2"


@pytest.fixture
def store(settings, transactional_db, milvus_service):
    """Milvus, empty. Transactional: passages reach Milvus once PostgreSQL commits."""
    settings.ARCHIVAL_VECTOR_STORE = "milvus"
    milvus.collections_drop()


def nearest(scope: PassageScope, text: str, *, limit: int = 100, model: str = MODEL) -> list[int]:
    return [i for i, _ in milvus.nearest(scope=scope, model=model, vector=unit_vector(text, 384), limit=limit,
                                         min_similarity=-1.0)]


def held() -> set[int]:
    return set(milvus.milvus_ids())


def test_a_scope_reaches_the_same_passages_in_milvus_as_in_postgresql(store):
    agent = make_agent()
    other = make_agent(owner=agent.owner)
    stranger = make_agent()
    source = Source.objects.create(owner=agent.owner, name="manuals")
    source.agents.add(agent)
    done = Document.objects.create(owner=agent.owner, source=source, filename="done.pdf", status="done")
    parsing = Document.objects.create(owner=agent.owner, source=source, filename="parsing.pdf", status="parsing")
    own = make_passage(agent, "own", tags=["a", "b"])
    old = make_passage(agent, "old", tags=["a", 'quote " and \\ back'])
    Passage.objects.filter(pk=old.pk).update(created_at=datetime(2024, 1, 1, tzinfo=timezone.utc))
    milvus.passages_upsert(ids=[old.pk])  # a date changed behind the services' back: copied again
    chunk = make_passage(text="chunk", document=done, tags=["b"])
    make_passage(text="unfinished", document=parsing)
    others = make_passage(other, "the other agent's", tags=["a"])
    make_passage(stranger, "someone else's", tags=["a"])
    make_passage(agent, "another model", embedding=[0.5] * 384, embedding_model="test/another")
    since = datetime(2025, 1, 1, tzinfo=timezone.utc)

    expected = {
        PassageScope(agent_id=agent.pk): {own.pk, old.pk, chunk.pk},
        PassageScope(agent_id=agent.pk, start=since): {own.pk, chunk.pk},
        PassageScope(agent_id=agent.pk, end=since): {old.pk},
        PassageScope(agent_id=agent.pk, tags=("a", "b"), all_tags=True): {own.pk},
        PassageScope(agent_id=agent.pk, tags=('quote " and \\ back',)): {old.pk},
        PassageScope(agent_id=other.pk): {others.pk},
        PassageScope(owner_id=agent.owner_id, tags=("a",)): {own.pk, old.pk, others.pk},
        PassageScope(owner_id=agent.owner_id, tags=("b",), end=since): set(),
    }
    for scope, ids in expected.items():
        in_postgresql = passage_list(scope=scope).filter(embedding_model=MODEL).values_list("id", flat=True)
        assert set(nearest(scope, "own")) == ids == set(in_postgresql), scope
    # the same text's vector comes first, with its cosine similarity
    [(first, similarity), *_] = milvus.nearest(scope=PassageScope(agent_id=agent.pk), model=MODEL,
                                               vector=unit_vector("chunk", 384), limit=3, min_similarity=0.5)
    assert first == chunk.pk and similarity == pytest.approx(1.0, abs=1e-3)
    assert nearest(PassageScope(agent_id=agent.pk), "x", limit=2) and len(nearest(PassageScope(agent_id=agent.pk), "x", limit=2)) == 2
    assert nearest(PassageScope(agent_id=agent.pk), "another model", model="test/another") != []


def test_an_inserted_passage_is_found_at_once_and_a_deleted_one_no_more(store):
    agent = make_agent()
    passage = passage_insert(owner_id=agent.owner_id, agent_id=agent.pk, text="The spare key is under the blue flowerpot.",
                             embedding_model=MODEL, tags=["home"])
    vector = list(Passage.objects.values_list("embedding", flat=True).get(pk=passage.pk))
    scope = PassageScope(agent_id=agent.pk, tags=("home",))
    assert milvus.nearest(scope=scope, model=MODEL, vector=vector, limit=5, min_similarity=0.9)[0][0] == passage.pk

    passage_delete(passage=passage)
    assert milvus.nearest(scope=scope, model=MODEL, vector=vector, limit=5, min_similarity=-1) == []
    assert held() == set()


def test_many_passages_keep_their_given_dates_in_milvus(store):
    agent = make_agent()
    long_ago = datetime(2020, 5, 1, tzinfo=timezone.utc)
    rows = passages_insert_many(owner_id=agent.owner_id, agent_id=agent.pk, embedding_model=MODEL, passages=[
        {"text": "imported from an old agent", "created_at": long_ago}, {"text": "written today"}])
    assert held() == {row.pk for row in rows}
    before = PassageScope(agent_id=agent.pk, end=long_ago + timedelta(days=1))
    assert nearest(before, "imported") == [rows[0].pk]


def test_a_document_is_found_while_its_source_is_attached_and_gone_with_it(store):
    agent = make_agent()
    source = Source.objects.create(owner=agent.owner, name="manuals")
    document = Document.objects.create(owner=agent.owner, source=source, filename="manual.pdf", status="done")
    chunks = {make_passage(document=document, text=f"page {n} of the manual").pk for n in range(3)}
    kept = Document.objects.create(owner=agent.owner, source=source, filename="kept.pdf", status="done")
    other_chunk = make_passage(document=kept, text="another manual").pk
    scope = PassageScope(agent_id=agent.pk)
    assert nearest(scope, "page 1 of the manual") == []

    source_attach(source=source, agent=agent)
    assert set(nearest(scope, "page 1 of the manual")) == chunks | {other_chunk}
    source_detach(source=source, agent=agent)
    assert nearest(scope, "page 1 of the manual") == []

    source_attach(source=source, agent=agent)
    document_delete(document=document)
    assert held() == {other_chunk}
    assert nearest(scope, "page 1 of the manual") == [other_chunk]
    source_delete(source=source)
    assert held() == set() and not Passage.objects.exists()


def test_a_deleted_agent_takes_its_own_passages_out_of_milvus_but_not_its_sources(store):
    agent = make_agent()
    neighbour = make_agent(owner=agent.owner)
    source = Source.objects.create(owner=agent.owner, name="notes")
    document = Document.objects.create(owner=agent.owner, source=source, filename="notes.txt", status="done")
    source.agents.add(agent, neighbour)
    chunk = make_passage(document=document, text="shared notes")
    mine = [make_passage(agent, f"mine {n}").pk for n in range(3)]
    theirs = make_passage(neighbour, "theirs")
    assert held() == {chunk.pk, theirs.pk, *mine}

    agent_delete(agent=agent)
    assert held() == {chunk.pk, theirs.pk}
    assert set(nearest(PassageScope(agent_id=neighbour.pk), "mine 1")) == {chunk.pk, theirs.pk}


def test_another_owners_passages_are_never_found(store):
    agent = make_agent()
    stranger = make_agent()
    make_passage(stranger, "the secret launch code is swordfish", tags=["secret"])
    for scope in (PassageScope(agent_id=agent.pk), PassageScope(owner_id=agent.owner_id),
                  PassageScope(owner_id=agent.owner_id, tags=("secret",))):
        assert nearest(scope, "the secret launch code is swordfish") == []
    assert len(nearest(PassageScope(owner_id=stranger.owner_id), "the secret launch code is swordfish")) == 1


def test_milvus_sync_copies_what_milvus_lacks_and_removes_what_postgresql_no_longer_has(store):
    agent = make_agent()
    ids = [make_passage(agent, f"note {n}").pk for n in range(5)]
    name = milvus.collections()[0]
    milvus.client().delete(name, ids=ids[:2])  # lost
    stray = {"id": max(ids) + 1000, "vector": unit_vector("stray", 384), "owner_id": agent.owner_id,
             "agent_id": agent.pk, "document_id": 0, "model": MODEL, "tags": [], "created_at": 0}
    milvus.client().upsert(name, [stray])  # a passage PostgreSQL deleted while Milvus was away
    assert held() == {*ids[2:], stray["id"]}
    assert stray["id"] in nearest(PassageScope(agent_id=agent.pk), "stray")

    out = StringIO()
    call_command("milvus_sync", stdout=out)
    assert out.getvalue().strip() == "passages in PostgreSQL: 5; copied to Milvus: 2; removed from Milvus: 1"
    assert held() == set(ids)
    assert nearest(PassageScope(agent_id=agent.pk), "note 0")[0] == ids[0]

    out = StringIO()
    call_command("milvus_sync", stdout=out)  # nothing left to do
    assert out.getvalue().strip() == "passages in PostgreSQL: 5; copied to Milvus: 0; removed from Milvus: 0"
    call_command("milvus_sync", "--rewrite", stdout=out)
    assert out.getvalue().strip().endswith("passages in PostgreSQL: 5; copied to Milvus: 5; removed from Milvus: 0")


def test_milvus_down_at_write_time_loses_no_postgresql_write(store, settings, tmp_path, caplog):
    agent = make_agent()
    kept = make_passage(agent, "stored while Milvus was up").pk
    up = settings.MILVUS_URI
    settings.MILVUS_URI = f"unix:{tmp_path / 'nobody-listens.sock'}"
    settings.MILVUS_TIMEOUT = 1.0
    caplog.set_level(logging.WARNING, logger="memory.milvus")

    passage = passage_insert(owner_id=agent.owner_id, agent_id=agent.pk, text="The boiler was serviced on Friday.",
                             embedding_model=MODEL)
    passage_delete(passage=Passage.objects.get(pk=kept))
    assert set(Passage.objects.values_list("text", flat=True)) == {"The boiler was serviced on Friday."}
    assert sum("Milvus is not reachable" in r.getMessage() for r in caplog.records) == 2
    found, _ = passage_search(scope=PassageScope(agent_id=agent.pk), embedding_models=[MODEL], query="boiler")
    assert [p.pk for p in found] == [passage.pk]  # by its words
    assert milvus.nearest(scope=PassageScope(agent_id=agent.pk), model=MODEL, vector=unit_vector("x", 384), limit=5,
                          min_similarity=-1) == []

    settings.MILVUS_URI, settings.MILVUS_TIMEOUT = up, 10.0
    assert held() == {kept}  # what the outage left behind
    assert milvus.sync() == {"passages": 1, "added": 1, "removed": 1}
    assert held() == {passage.pk}



def test_milvus_lite_runs_as_one_server_that_every_process_reaches(tmp_path):
    """Milvus Lite locks its data: the project starts one server for it, and processes configured
    with MILVUS_URI as that path (which pymilvus itself would refuse as it is imported) reach it."""
    data_dir, path = tmp_path / "data", tmp_path / "vectors" / "archive.db"
    services = embedded.Embedded(data_dir, path)
    try:
        assert embedded.ensure_running(services, postgres=False, redis=False, milvus=True) == ["milvus"]
        assert embedded.ensure_running(services, postgres=False, redis=False, milvus=True) == []  # one server
        assert stat.S_IMODE(services.milvus_socket.stat().st_mode) & 0o077 == 0
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": "playground.settings", "PLAYGROUND_DATA_DIR": str(data_dir),
               "ARCHIVAL_VECTOR_STORE": "milvus", "MILVUS_URI": str(path), "MILVUS_COLLECTION_PREFIX": "other"}
        script = ("import django; django.setup(); from django.conf import settings; from memory import milvus; "
                  "milvus._collection(8, create=True); print(settings.MILVUS_URI, milvus.collections())")
        for _ in range(2):  # two processes, one after the other, while the server holds the data
            done = subprocess.run([sys.executable, "-c", script], env=env, cwd=Path(embedded.__file__).parent.parent, capture_output=True,
                                  text=True, timeout=120)
            assert done.stdout.strip() == f"{services.milvus_uri} ['other_passages_8']", done.stderr
        assert path.is_dir()  # Milvus Lite's data, where MILVUS_URI said
    finally:
        assert embedded.stop(services) == ["milvus"]
    assert not services.milvus_socket.exists() and not embedded.milvus_running(services)
