"""Folders through the official SDK: upload a PDF, wait for it to be processed, attach the folder,
and find its text by archival search."""

import pytest
from letta_client import ConflictError

from tests.memory.documents import make_pdf
from tests.helpers import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

PAGES = [
    "The lighthouse keeper logs the weather every morning at six.\n\nStorms are written in red ink.",
    "The keeper's cat is named Barnacle and sleeps on the lens housing.\n\nBarnacle hunts crabs at low tide.",
]


def test_upload_a_pdf_attach_the_folder_and_search_its_text(api):
    agent = api.sdk.agents.create(name="Sam", memory_blocks=[])
    folder = api.sdk.folders.create(name="lighthouse", description="notes from the lighthouse")
    assert folder.embedding_config.handle == "local/all-MiniLM-L6-v2"

    uploaded = api.sdk.folders.files.upload(folder.id, file=("keeper.pdf", make_pdf(PAGES), "application/pdf"))
    assert uploaded.file_name == "keeper.pdf" and uploaded.source_id == folder.id
    assert uploaded.processing_status in ("pending", "parsing", "embedding", "completed")

    def processed():
        [file] = api.sdk.folders.files.list(folder.id).items
        assert file.processing_status != "error", file.error_message
        return file if file.processing_status == "completed" else None

    file = wait_until(processed, timeout=120, message="the PDF to be processed")
    assert file.total_chunks >= 1 and file.chunks_embedded == file.total_chunks
    assert file.model_extra["pages_total"] == 2
    assert api.sdk.folders.files.retrieve(file.id, folder_id=folder.id).processing_status == "completed"

    # not attached: the agent does not find it
    assert api.sdk.agents.passages.search(agent.id, query="what is the cat called").count == 0
    state = api.sdk.agents.folders.attach(folder.id, agent_id=agent.id)
    assert [s.id for s in state.sources] == [folder.id]
    assert [f.id for f in api.sdk.agents.folders.list(agent.id).items] == [folder.id]
    assert api.sdk.folders.agents.list(folder.id) == [agent.id]

    found = api.sdk.agents.passages.search(agent.id, query="what is the cat called", top_k=1)
    assert "Barnacle" in found.results[0].content
    [hit] = api.sdk.passages.search(agent_id=agent.id, query="red ink storms", limit=1)
    assert hit.passage.file_name == "keeper.pdf" and hit.passage.source_id == folder.id
    assert hit.passage.metadata == {"page_start": 1, "page_end": 1}

    api.sdk.agents.folders.detach(folder.id, agent_id=agent.id)
    assert api.sdk.agents.passages.search(agent.id, query="Barnacle").count == 0


def test_duplicate_names_and_deleting(api):
    folder = api.sdk.folders.create(name="notes")
    with pytest.raises(ConflictError):
        api.sdk.folders.create(name="notes")
    first = api.sdk.folders.files.upload(folder.id, file=("a.txt", b"first text"))
    second = api.sdk.folders.files.upload(folder.id, file=("a.txt", b"second text"))
    assert (first.file_name, second.file_name) == ("a.txt", "a (2).txt")
    kept = api.sdk.folders.files.upload(folder.id, file=("a.txt", b"third"), duplicate_handling="skip")
    assert kept.id == first.id
    with pytest.raises(ConflictError):
        api.sdk.folders.files.upload(folder.id, file=("a.txt", b"third"), duplicate_handling="error")

    api.sdk.folders.files.delete(second.id, folder_id=folder.id)
    assert [f.id for f in api.sdk.folders.files.list(folder.id).items] == [first.id]
    renamed = api.sdk.folders.update(folder.id, name="old notes")
    assert api.sdk.folders.retrieve(folder.id).name == renamed.name == "old notes"
    api.sdk.folders.delete(folder.id)
    assert api.sdk.folders.list().items == []
