"""Documents into archival memory: the pipeline that runs memory.parsing (sniff, parse page by
page, chunk) and embeds and inserts what it yields, with its progress.

The pipeline streams: a page is parsed, cut into chunks (never across pages, so that a passage
cites one page), and every EMBED_BATCH chunks are embedded and inserted, so a document's vectors
are never all in memory. Passages of a document are searched only once it is 'done'
(memory.search.PassageScope), and on any error or cancel they are deleted, so nobody ever sees
half a document.

A run owns its document while the status is parsing/embedding. Every progress write is an UPDATE
conditional on that, so a cancel, a re-run (status back to pending) or a delete made elsewhere stops
the run at its next write. A per-document advisory lock keeps two runs of one document apart.
"""

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.db import IntegrityError, connection
from django.utils import timezone

from memory import broadcast, milvus
from memory.embeddings import get_embedder
from memory.models import Document, Passage
from memory.openai_api import ProviderError
from memory.parsing import Chunk, Chunker, IngestionError, Parsed, chunk_sizes, error_reason, parse
from memory.search import ensure_index

logger = logging.getLogger(__name__)

# chunks embedded and inserted together: bounds memory and how long a cancel takes to be noticed
EMBED_BATCH = 64
PROGRESS_INTERVAL = 0.5  # seconds between progress writes while parsing pages
DOCUMENT_LOCK_CLASS = 0x4D44  # "MD": first key of the advisory locks that keep two runs of one document apart
RUN_STATUSES = (Document.Status.PARSING, Document.Status.EMBEDDING)
STARTABLE_STATUSES = (Document.Status.PENDING, *RUN_STATUSES)  # parsing/embedding: a worker died mid-run


class Stopped(Exception):
    """The run no longer owns its document: cancelled, re-queued or deleted."""


def source_group(source_id: int) -> str:
    return f"source-{source_id}"


def document_progress_publish(document: Document) -> None:
    """Tell the source's watchers (the browser's progress bars) where a document's ingestion is.
    The event is the message itself, so a consumer's `document_progress` method receives it.
    A run's last event (done, error, cancelled, back to pending) is out before this returns, so that
    a process that ends with the run (`load_source`) does not drop it."""
    broadcast.send(source_group(document.source_id), {
        "type": "document_progress",
        "document_id": document.pk,
        "status": document.status,
        "pages_total": document.pages_total,
        "pages_parsed": document.pages_parsed,
        "chunks_total": document.chunks_total,
        "chunks_embedded": document.chunks_embedded,
        "error": document.error,
    }, wait=document.status not in RUN_STATUSES)


class _Lock:
    """Session advisory lock on one document: a second run waits until the first has stopped."""

    def __init__(self, document_id: int) -> None:
        self.key = [DOCUMENT_LOCK_CLASS, document_id]

    def __enter__(self) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s, %s)", self.key)

    def __exit__(self, *exc: object) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", self.key)


class _Run:
    def __init__(self, document: Document, on_progress: Callable[[Document], None] | None) -> None:
        self.document = document
        self.on_progress = on_progress
        self.last_progress = 0.0

    def save(self, **fields: object) -> None:
        """Write and publish progress, if the run still owns the document; else stop."""
        fields["updated_at"] = timezone.now()  # .update() skips auto_now
        if not Document.objects.filter(pk=self.document.pk, status__in=RUN_STATUSES).update(**fields):
            raise Stopped()
        for name, value in fields.items():
            setattr(self.document, name, value)
        self.last_progress = time.monotonic()
        self.announce()

    def announce(self) -> None:
        document_progress_publish(self.document)
        if self.on_progress is not None:
            self.on_progress(self.document)

    def run(self) -> None:
        document = self.document
        self.announce()
        size = max(document.size, document.file.size if document.file else 0)
        if size > settings.UPLOAD_MAX_BYTES:
            raise IngestionError(too_large(size))
        if not document.file:
            raise IngestionError("no file is stored for this document: upload it again")
        self.embedder = get_embedder(settings.EMBEDDING_MODEL)
        try:
            raw = document.file.open("rb")
        except OSError as error:
            raise IngestionError(f"the stored file cannot be read: {error_reason(error)}") from None
        with raw:
            content_type, parsed = parse(raw, document.filename)
            self.save(content_type=content_type, pages_total=parsed.pages_total)
            self.ingest(parsed)

    def ingest(self, parsed: Parsed) -> None:
        embedder = self.embedder
        ensure_index(embedder.model, embedder.dimensions)
        chunker = Chunker(embedder.count_tokens, *chunk_sizes(embedder))
        batch: list[Chunk] = []
        pages_parsed = 0  # a text file has no pages: it counts as one, read when all its parts are
        for page, text in parsed.pages:
            for chunk in chunker.feed(page, text):
                batch.append(chunk)
                if len(batch) == EMBED_BATCH:
                    self.flush(batch, pages_parsed)
                    batch = []
            if page is not None:
                pages_parsed = page
            if time.monotonic() - self.last_progress > PROGRESS_INTERVAL:
                self.save(pages_parsed=pages_parsed)
        pages_parsed = parsed.pages_total
        batch.extend(chunker.finish())
        for start in range(0, len(batch), EMBED_BATCH):
            self.flush(batch[start:start + EMBED_BATCH], pages_parsed)
        self.save(status=Document.Status.DONE, pages_parsed=pages_parsed)

    def flush(self, batch: list[Chunk], pages_parsed: int) -> None:
        document = self.document
        # checks for a cancel before the costly part, and shows that these chunks exist
        self.save(status=Document.Status.EMBEDDING, pages_parsed=pages_parsed,
                  chunks_total=document.chunks_total + len(batch))
        vectors = self.embedder.embed([chunk.text for chunk in batch])
        try:
            rows = Passage.objects.bulk_create(
                Passage(owner_id=document.owner_id, document_id=document.pk, text=chunk.text,
                        page_start=chunk.page_start, page_end=chunk.page_end, embedding=vector,
                        embedding_model=self.embedder.model)
                for chunk, vector in zip(batch, vectors)
            )
        except IntegrityError:
            if not Document.objects.filter(pk=document.pk).exists():  # deleted while this batch was embedded
                raise Stopped() from None
            raise
        milvus.passages_upsert_later(ids=[row.pk for row in rows])
        self.save(chunks_embedded=document.chunks_embedded + len(batch))


def too_large(size: int) -> str:
    """Why a file over UPLOAD_MAX_BYTES is refused: in MB, or in bytes where MB to one decimal would
    print the size and the limit alike ("0.1 MB (the limit is 0.1 MB)")."""
    limit = settings.UPLOAD_MAX_BYTES
    shown, most = (f"{n / (1024 * 1024):.1f} MB" for n in (size, limit))
    if shown == most:
        shown, most = f"{size:,} bytes", f"{limit:,} bytes"
    return f"file too large: {shown} (the limit is {most})"


def document_ingest(*, document_id: int, on_progress: Callable[[Document], None] | None = None,
                    raise_retryable: bool = False) -> Document | None:
    """Ingest one document from scratch: its old passages go first. Returns the document as it
    ended (done, error, cancelled), or None if it is gone. A document that is neither pending nor
    left mid-run (by a worker that died) is returned untouched: the task was stale.

    With `raise_retryable`, a retryable embedding error puts the document back to pending and is
    raised, so that the Celery task can retry; otherwise it ends the document in error."""
    with _Lock(document_id):
        started = Document.objects.filter(pk=document_id, status__in=STARTABLE_STATUSES).update(
            status=Document.Status.PARSING, pages_total=0, pages_parsed=0, chunks_total=0, chunks_embedded=0,
            error="", updated_at=timezone.now())
        document = Document.objects.filter(pk=document_id).first()
        if not started or document is None:
            return document
        _passages_delete(document_id)  # a re-run starts clean
        run = _Run(document, on_progress)
        try:
            run.run()
        except Stopped:
            _delete_passages(document)
        except IngestionError as error:
            _fail(run, str(error))
        except ProviderError as error:
            if error.retryable and raise_retryable:
                _fail(run, f"embedding failed, will retry: {error.message}", status=Document.Status.PENDING)
                raise
            _fail(run, f"embedding failed: {error.message}")
        except Exception as error:
            logger.exception("ingestion of document %s failed", document_id)
            _fail(run, f"ingestion failed: {error_reason(error)}")
        return Document.objects.filter(pk=document_id).first()


def _passages_delete(document_id: int) -> None:
    Passage.objects.filter(document_id=document_id).delete()
    milvus.passages_delete_later(document_ids=[document_id])


def _delete_passages(document: Document) -> None:
    _passages_delete(document.pk)
    fresh = Document.objects.filter(pk=document.pk).first()
    if fresh is not None and fresh.status == Document.Status.CANCELLED:
        document_progress_publish(fresh)


def _fail(run: _Run, message: str, status: str = Document.Status.ERROR) -> None:
    document = run.document
    _passages_delete(document.pk)
    try:
        run.save(status=status, error=message, chunks_embedded=0)
    except Stopped:  # cancelled or deleted meanwhile: that wins
        _delete_passages(document)
