"""Documents into archival memory, in this process: the pipeline's files and errors, cancel and
re-run, attach and detach, and hybrid search over what was ingested. Sniffing, parsing and chunking
alone: test_parsing.py."""

import os
import zlib

import pytest

from memory.embeddings import get_embedder
from memory.ingestion import document_ingest
from memory.models import Document, Passage, Source
from memory.parsing import MARKDOWN, PDF, TEXT
from memory.search import PassageScope
from memory.selectors import passage_search
from memory.services import (document_add, document_cancel, document_delete, document_reingest, source_attach,
                             source_create, source_delete, source_detach)
from tests.factories import make_agent, make_user
from tests.memory.documents import (encrypted_pdf, image_only_pdf, make_pdf, png_bytes, sentences, uploaded,
                                    zip_bytes)
from tests.memory.test_parsing import CMAP, bomb_pdf, raw_pdf

MODEL = "local/all-MiniLM-L6-v2"
pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def embedder():
    return get_embedder(MODEL)


def ingest(owner, source, name: str, data: bytes, **kwargs) -> Document:
    document = document_add(owner=owner, source=source, file=uploaded(name, data))
    if document.status == Document.Status.PENDING:
        document = document_ingest(document_id=document.pk, **kwargs)
    return document


@pytest.fixture
def source(db, media):
    return source_create(owner=make_user(), name="manuals")


def search(agent, query: str, mode: str = "hybrid", page_size: int = 10) -> list[Passage]:
    passages, _ = passage_search(scope=PassageScope(agent_id=agent.pk), embedding_models=[MODEL], query=query, mode=mode,
                                 page_size=page_size)
    return passages


# --- the pipeline: good files ----------------------------------------------------------------------


def test_a_multi_page_pdf_becomes_passages_that_cite_their_pages(source, embedder):
    pages = [" ".join(sentences("inventory", n, 14)) for n in range(1, 4)]
    document = ingest(source.owner, source, "inventory.pdf", make_pdf(pages))

    assert (document.status, document.error, document.content_type) == ("done", "", PDF)
    assert (document.pages_total, document.pages_parsed) == (3, 3)
    passages = list(Passage.objects.filter(document=document).order_by("id"))
    assert document.chunks_total == document.chunks_embedded == len(passages) > 3
    assert all(p.embedding_model == MODEL and len(p.embedding) == 384 and p.owner_id == source.owner_id for p in passages)
    assert all(embedder.count_tokens(p.text) + 2 <= 256 for p in passages)  # + [CLS] and [SEP]
    for number, page in enumerate(pages, start=1):
        for sentence in sentences("inventory", number, 14):
            assert any(sentence in p.text and p.page_start <= number <= p.page_end for p in passages), sentence
    assert {(p.page_start, p.page_end) for p in passages} >= {(1, 1), (2, 2), (3, 3)}
    assert document.file.name.startswith("documents/") and document.size == document.file.size


def test_markdown_and_plain_text(source):
    markdown = "# Setup\n\nInstall the **pump** first.\n\n- check the valve\n- open the tap\n"
    text = "The lighthouse keeper logs every ship.\nHe writes in pencil.\n"
    md = ingest(source.owner, source, "setup.md", markdown.encode())
    txt = ingest(source.owner, source, "log.txt", text.encode())
    assert (md.status, md.content_type, txt.status, txt.content_type) == ("done", MARKDOWN, "done", TEXT)
    [md_passage] = Passage.objects.filter(document=md)
    assert md_passage.text == markdown.strip() and md_passage.page_start is None
    assert Passage.objects.get(document=txt).text == text.strip()
    assert (txt.pages_total, txt.pages_parsed) == (1, 1)


def test_a_big_text_file_is_read_in_parts_without_losing_a_word(source, embedder):
    lines = [f"Line {i} of the ledger records payment {i * 13} to vendor {i % 17}." for i in range(3000)]
    document = ingest(source.owner, source, "ledger.txt", ("\n".join(lines) + "\n").encode())  # > 64 KB: several parts
    assert document.status == "done"
    text = " ".join(Passage.objects.filter(document=document).values_list("text", flat=True))
    assert all(line in text for line in lines)


# --- the pipeline: bad files -----------------------------------------------------------------------


@pytest.mark.parametrize("name, data, message", [
    ("secret.pdf", encrypted_pdf(["Top secret plans."], user_password="hunter2"), "encrypted PDF: remove the password first"),
    ("broken.pdf", make_pdf(["Some text that will be cut off."] * 3)[:600], "corrupt PDF"),
    ("empty.pdf", b"", "the file is empty"),
    ("scan.pdf", image_only_pdf(), "no text found (scanned or image-only PDF?)"),
    ("photo.png", png_bytes(), "unsupported file type (it looks like a PNG image)"),
    ("archive.pdf", zip_bytes(), "not a PDF although named .pdf (it looks like a ZIP archive"),
    ("blank.txt", b"  \n\n \n", "no text found"),
])
def test_a_bad_file_ends_in_error_with_no_passages(source, name, data, message):
    document = ingest(source.owner, source, name, data)
    document.refresh_from_db()
    assert document.status == "error"
    assert message in document.error
    assert not Passage.objects.filter(document=document).exists()


def test_a_pdf_locked_only_by_an_owner_password_opens(source):
    document = ingest(source.owner, source, "protected.pdf", encrypted_pdf(["Readable by anyone."], user_password=""))
    assert document.status == "done"
    assert Passage.objects.get(document=document).text == "Readable by anyone."


def test_a_pdf_whose_text_holds_nul_characters_or_lone_surrogates_is_stored_without_them(source):
    nul = raw_pdf(zlib.compress(b"BT /F1 12 Tf 72 700 Td (Valve\\000 seven is open.) Tj ET"))
    document = ingest(source.owner, source, "nul.pdf", nul)
    assert (document.status, document.error) == ("done", "")
    assert Passage.objects.get(document=document).text == "Valve seven is open."
    broken = raw_pdf(zlib.compress(b"BT /F1 12 Tf 72 700 Td (\\003\\001\\003) Tj ET"), to_unicode=CMAP)
    document = ingest(source.owner, source, "surrogate.pdf", broken)
    assert (document.status, Passage.objects.get(document=document).text) == ("done", "AA")


def test_a_decompression_bomb_ends_in_error_with_no_passages(source):
    document = ingest(source.owner, source, "bomb.pdf", bomb_pdf())
    assert (document.status, document.error) == (
        "error", "page 1: a compressed stream expands past 75 MB (a decompression bomb?)")
    assert not Passage.objects.filter(document=document).exists()


def test_a_stored_file_that_went_missing_ends_in_an_error_that_names_no_path_on_the_server(source, media):
    document = document_add(owner=source.owner, source=source, file=uploaded("notes.txt", b"Some notes."))
    os.remove(document.file.path)
    document = document_ingest(document_id=document.pk)
    assert document.status == "error" and document.error.endswith(": No such file or directory")
    assert "/" not in document.error  # the error is shown to the user: no path of the media folder


def test_a_file_over_the_size_limit_is_not_stored_and_ends_in_error(source, settings):
    settings.UPLOAD_MAX_BYTES = 2048
    document = document_add(owner=source.owner, source=source, file=uploaded("big.txt", b"word " * 1000))
    assert document.status == "error" and document.error == "file too large: 5,000 bytes (the limit is 2,048 bytes)"
    assert not document.file and document.size == 5000
    assert document_ingest(document_id=document.pk).status == "error"  # a stale task changes nothing
    # a file stored under an older, higher limit is refused by the pipeline too
    settings.UPLOAD_MAX_BYTES = 1024 * 1024
    stored = document_add(owner=source.owner, source=source, file=uploaded("small.txt", b"word " * 1000))
    settings.UPLOAD_MAX_BYTES = 2048
    assert document_ingest(document_id=stored.pk).error.startswith("file too large")
    assert not Passage.objects.filter(document__source=source).exists()


def test_a_failure_half_way_leaves_no_passages(source):
    pages = [" ".join(sentences("ledger", n, 40)) for n in range(1, 21)]  # about 80 chunks: more than one batch

    def explode(document):
        if document.chunks_embedded:  # a batch is in: fail before the rest
            assert Passage.objects.filter(document=document).exists()
            raise RuntimeError("disk full")

    document = ingest(source.owner, source, "ledger.pdf", make_pdf(pages), on_progress=explode)
    assert (document.status, document.error) == ("error", "ingestion failed: disk full")
    assert not Passage.objects.filter(document=document).exists()


@pytest.mark.django_db(transaction=True)  # the passages' foreign key is checked at commit: commit for real
def test_a_document_deleted_while_a_batch_is_embedded_stops_the_run_quietly(media, caplog):
    source = source_create(owner=make_user(), name="manuals")
    pages = [" ".join(sentences("ledger", n, 40)) for n in range(1, 4)]

    def delete_it(document):
        if document.status == "embedding" and not document.chunks_embedded:  # about to embed and insert
            document_delete(document=Document.objects.get(pk=document.pk))

    assert ingest(source.owner, source, "ledger.pdf", make_pdf(pages), on_progress=delete_it) is None
    assert not Passage.objects.exists() and not Document.objects.exists()
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


# --- cancel and re-run -----------------------------------------------------------------------------


def test_cancel_stops_the_run_between_batches_and_removes_its_passages(source):
    pages = [" ".join(sentences("ledger", n, 40)) for n in range(1, 21)]  # about 80 chunks
    seen = []

    def cancel_after_first_batch(document):
        seen.append(document.chunks_embedded)
        if document.chunks_embedded and document.status == "embedding":
            document_cancel(document=Document.objects.get(pk=document.pk))

    document = ingest(source.owner, source, "ledger.pdf", make_pdf(pages), on_progress=cancel_after_first_batch)
    assert (document.status, document.error) == ("cancelled", "cancelled")
    assert document.chunks_embedded == 64 and max(seen) == 64  # it went no further than the first batch
    assert not Passage.objects.filter(document=document).exists()
    with pytest.raises(ValueError, match="is not being ingested"):
        document_cancel(document=document)


def test_a_cancelled_document_is_skipped_by_its_queued_task(source):
    document = document_add(owner=source.owner, source=source, file=uploaded("a.txt", b"Some words."))
    document_cancel(document=document)
    assert document_ingest(document_id=document.pk).status == "cancelled"
    assert not Passage.objects.filter(document=document).exists()


def test_re_run_replaces_the_passages(source):
    document = ingest(source.owner, source, "notes.pdf", make_pdf([" ".join(sentences("notes", 1, 20))]))
    before = set(Passage.objects.filter(document=document).values_list("id", flat=True))
    document = document_reingest(document=document)
    assert document.status == "pending" and not Passage.objects.filter(document=document).exists()
    document = document_ingest(document_id=document.pk)
    after = set(Passage.objects.filter(document=document).values_list("id", flat=True))
    assert document.status == "done" and len(after) == len(before) == document.chunks_embedded
    assert not before & after


def test_re_run_during_a_run_stops_the_old_run(source):
    pages = [" ".join(sentences("ledger", n, 40)) for n in range(1, 21)]  # about 80 chunks

    def requeue(document):
        if document.chunks_embedded and document.status == "embedding":
            document_reingest(document=Document.objects.get(pk=document.pk))

    first = ingest(source.owner, source, "ledger.pdf", make_pdf(pages), on_progress=requeue)
    assert first.status == "pending" and not Passage.objects.filter(document=first).exists()
    second = document_ingest(document_id=first.pk)
    assert second.status == "done" and Passage.objects.filter(document=first).count() == second.chunks_embedded > 64


# --- sources, attach and detach --------------------------------------------------------------------


def test_detach_hides_the_passages_but_keeps_the_source(source):
    agent = make_agent(owner=source.owner)
    ingest(source.owner, source, "pump.txt", b"Bleed the XR-200 pump before the first start.")
    assert search(agent, "XR-200 pump") == []
    source_attach(source=source, agent=agent)
    assert [p.text for p in search(agent, "XR-200 pump")] == ["Bleed the XR-200 pump before the first start."]
    source_detach(source=source, agent=agent)
    assert search(agent, "XR-200 pump") == []
    assert Source.objects.filter(pk=source.pk).exists() and Passage.objects.filter(document__source=source).count() == 1


def test_only_done_documents_are_searched(source):
    agent = make_agent(owner=source.owner)
    source_attach(source=source, agent=agent)
    document = ingest(source.owner, source, "pump.txt", b"Bleed the XR-200 pump before the first start.")
    Document.objects.filter(pk=document.pk).update(status="embedding")
    assert search(agent, "XR-200 pump") == []


def test_attach_refuses_another_users_agent_and_another_embedding_model(source):
    with pytest.raises(PermissionError):
        source_attach(source=source, agent=make_agent())
    ingest(source.owner, source, "a.txt", b"Some words.")
    other_model = make_agent(owner=source.owner, embedding_model="openai/text-embedding-3-small")
    with pytest.raises(ValueError, match="embedded with local/all-MiniLM-L6-v2"):
        source_attach(source=source, agent=other_model)
    assert not source.agents.exists()


def test_source_names_are_unique_per_user(source):
    with pytest.raises(ValueError, match="already exists"):
        source_create(owner=source.owner, name="manuals")
    assert source_create(owner=make_user(), name="manuals").name == "manuals"


def test_delete_a_document_and_a_source_with_their_files(source, django_capture_on_commit_callbacks):
    first = ingest(source.owner, source, "a.txt", b"Alpha words.")
    second = ingest(source.owner, source, "b.txt", b"Beta words.")
    paths = [first.file.path, second.file.path]
    with django_capture_on_commit_callbacks(execute=True):
        document_delete(document=first)
    assert not Document.objects.filter(pk=first.pk).exists() and Passage.objects.filter(document__source=source).count() == 1
    with django_capture_on_commit_callbacks(execute=True):
        source_delete(source=source)
    assert not Passage.objects.filter(document_id=second.pk).exists() and not Source.objects.filter(pk=source.pk).exists()
    assert not any(os.path.exists(p) for p in paths)


def test_document_add_queues_ingestion_after_commit(source, media, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        document_add(owner=source.owner, source=source, file=uploaded("a.txt", b"Alpha words."))
    assert len(callbacks) == 1
    with django_capture_on_commit_callbacks() as callbacks:
        document_add(owner=source.owner, source=source, file=uploaded("b.txt", b"Beta."), queue=False)
    assert callbacks == []
    with pytest.raises(PermissionError):
        document_add(owner=make_user(), source=source, file=uploaded("c.txt", b"Gamma."))
    sneaky = document_add(owner=source.owner, source=source, file=uploaded("d.txt", b"Delta."), filename="../../d.txt")
    assert sneaky.filename == "d.txt" and sneaky.file.path.startswith(str(media))


# --- hybrid search over ingested documents ---------------------------------------------------------

PART = "QX-7731-B"
# codes that look like it, each on a page of the catalogue: to a vector, nearer than a meeting note
NEAR_MISSES = [f"Part {code} is a spare {kind}." for code, kind in zip(
    ["QX-7713-B", "QX-7731-D", "QX-1773-B", "QK-7731-A", "QX-7371-B", "XQ-7731-B", "QX-7732-C", "QX-3177-B"],
    ["gasket", "bolt", "washer", "hose clamp", "bearing", "valve seat", "spring", "filter"])]
MEETING = ("At the Tuesday planning meeting we went over the roadmap, the hiring plan for the spring and the budget "
           f"for next year. Maria said the supplier finally shipped the replacement, part {PART}, and the crew fits "
           "it next week once the scaffolding is down and the weather clears.")
REVENUE = "The quarterly revenue grew by five percent thanks to strong sales in Europe."
FILLER = ["My cat sleeps on the sofa all afternoon while the rain taps on the window.",
          "We hiked up the mountain trail at dawn and watched the fog lift from the valley.",
          "The recipe needs two cups of flour, an egg and a pinch of salt."]


@pytest.fixture
def handbook(source):
    agent = make_agent(owner=source.owner)
    pages = [*NEAR_MISSES, MEETING, REVENUE, *FILLER]
    document = ingest(source.owner, source, "handbook.pdf", make_pdf(pages))
    assert document.status == "done"
    source_attach(source=source, agent=agent)
    return agent


def test_hybrid_search_finds_a_rare_part_number_that_vectors_rank_low(handbook):
    vector = [p.text for p in search(handbook, PART, "vector", page_size=40)]
    assert len(vector) > 3 and not any(PART in text for text in vector[:3]), vector
    [found] = search(handbook, PART, "fts")
    assert found.text == MEETING and found.page_start == 9
    assert PART in search(handbook, PART, "hybrid")[0].text


def test_hybrid_search_finds_a_paraphrase_that_full_text_misses(handbook):
    query = "How did earnings change over the three-month period?"
    assert not any(REVENUE in p.text for p in search(handbook, query, "fts"))
    best = search(handbook, query, "hybrid")[0]
    assert best.text == REVENUE and (best.page_start, best.document.filename) == (10, "handbook.pdf")
