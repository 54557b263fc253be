"""Writes to the memory tiers. Each function commits on its own."""

import logging
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import kombu.exceptions
import redis.exceptions

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, connection, transaction
from django.db.models import Sum
from django.utils import timezone

from memory import embedding_queue, milvus
from memory.embeddings import get_embedder
from memory.errors import BlockLabelTaken, BlockLimitExceeded, UploadQuotaExceeded
from memory.ingestion import too_large
from memory.models import (
    Block,
    BlockAttachment,
    BlockRevision,
    Document,
    Message,
    Passage,
    Source,
)
from memory.search import ensure_index

EDITABLE_BLOCK_FIELDS = ("label", "description", "value", "limit", "read_only")

logger = logging.getLogger(__name__)
# what Redis (or Celery's publishing through it) raises when it cannot be reached
REDIS_UNREACHABLE = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, kombu.exceptions.OperationalError)


def block_create(*, owner, label: str, value: str = "", limit: int = 5000, description: str = "",
                 read_only: bool = False) -> Block:
    if len(value) > limit:
        raise BlockLimitExceeded(label=label, chars=len(value), limit=limit, used=0)
    return Block.objects.create(owner=owner, label=label, value=value, limit=limit, description=description,
                                read_only=read_only)


def block_write(*, block_id: int, actor: str, change: Callable[[Block], dict], user=None,
                step_id: int | None = None, note: str = "") -> tuple[Block, bool]:
    """Change a block from what it holds now: `change` gets the locked row and returns the new values
    of some of its fields (or raises BlockEditRefused). A value over the limit is refused; a change
    is kept as a revision. Returns the block and whether anything changed. Callers go through
    agents.services.block_edit, which also tells the block's agents."""
    try:
        return _block_write(block_id, actor, change, user, step_id, note)
    except IntegrityError as error:  # one_label_per_agent: a rename that raced past the caller's check
        raise BlockLabelTaken("another block of one of its agents already has that label") from error


def _block_write(block_id: int, actor: str, change: Callable[[Block], dict], user, step_id: int | None,
                 note: str) -> tuple[Block, bool]:
    with transaction.atomic():
        block = Block.objects.select_for_update().get(pk=block_id)
        used = len(block.value)
        changes = change(block)
        if unknown := set(changes) - set(EDITABLE_BLOCK_FIELDS):
            raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
        before = {name: getattr(block, name) for name in changes}
        for name, value in changes.items():
            setattr(block, name, value)
        if len(block.value) > block.limit:
            raise BlockLimitExceeded(label=block.label, chars=len(block.value), limit=block.limit, used=used)
        after = {name: getattr(block, name) for name in changes}
        if before == after:
            return block, False
        block.save(update_fields=[*changes, "updated_at"])
        if before.get("label", block.label) != block.label:
            BlockAttachment.objects.filter(block=block).update(label=block.label)
        BlockRevision.objects.create(block=block, actor=actor, user=user, step_id=step_id, before=before, after=after,
                                     note=note)
    return block, True


def passage_delete(*, passage: Passage) -> None:
    passage_id = passage.pk
    passage.delete()
    milvus.passages_delete_later(ids=[passage_id])


def messages_append(*, agent_id: int, owner_id: int, messages: list[dict], run_id: int | None = None,
                    step_id: int | None = None, embed: bool = True) -> list[Message]:
    """Store messages in recall memory; they are embedded in the background (`embed=False`: the
    caller queues that itself, with messages_embed_later, once for many appends)."""
    rows = [Message(agent_id=agent_id, owner_id=owner_id, run_id=run_id, step_id=step_id, **fields) for fields in messages]
    if len(rows) == 1:
        rows[0].save(force_insert=True)  # one INSERT; bulk_create would add a BEGIN and a COMMIT
    else:
        rows = Message.objects.bulk_create(rows)
    if embed:
        messages_embed_later(messages=rows)
    return rows


def messages_embed_later(*, messages: list[Message]) -> None:
    """Queue the embedding of those messages that recall search reads, in the next batch
    (memory.embedding_queue), once they are committed."""
    searchable = [m.pk for m in messages if m.kind in (Message.Kind.USER_MESSAGE, Message.Kind.ASSISTANT) and m.text]
    if searchable:
        transaction.on_commit(lambda: _embed_soon(searchable))


def _embed_soon(message_ids: list[int]) -> None:
    from memory.tasks import embed_waiting_messages

    try:
        if embedding_queue.add(message_ids):
            embed_waiting_messages.apply_async(countdown=settings.EMBED_BATCH_SECONDS)
    except REDIS_UNREACHABLE:
        # the turn that stored them goes on; recall search still finds them by their words
        logger.warning("Redis is not reachable: %s new messages stay unembedded", len(message_ids))


def messages_evict(*, agent_id: int, owner_id: int, message_ids: list[int], summary: dict) -> Message:
    """Take messages out of the context window (they stay in recall memory) and put the new summary in."""
    with transaction.atomic():
        Message.objects.filter(agent_id=agent_id, pk__in=message_ids).update(in_context=False)
        Message.objects.filter(agent_id=agent_id, kind=Message.Kind.SUMMARY, in_context=True).update(in_context=False)
        return Message.objects.create(agent_id=agent_id, owner_id=owner_id, **summary)


def messages_embed(*, message_ids: list[int]) -> int:
    rows = list(Message.objects.filter(pk__in=message_ids, embedding__isnull=True).select_related("agent"))
    by_model: dict[str, list[Message]] = {}
    for message in rows:
        by_model.setdefault(message.agent.embedding_model, []).append(message)
    for model, messages in by_model.items():
        embedder = get_embedder(model)
        ensure_index(model, embedder.dimensions)
        for message, vector in zip(messages, embedder.embed([m.text for m in messages])):
            message.embedding, message.embedding_model = vector, model
        Message.objects.bulk_update(messages, ["embedding", "embedding_model"])
    return len(rows)


def passage_insert(*, owner_id: int, agent_id: int, text: str, embedding_model: str, tags: list[str] | None = None,
                   step_id: int | None = None) -> Passage:
    """An agent's own archival memory; embedded at once, so the next search finds it."""
    embedder = get_embedder(embedding_model)
    ensure_index(embedding_model, embedder.dimensions)
    [vector] = embedder.embed([text])
    passage = Passage.objects.create(owner_id=owner_id, agent_id=agent_id, text=text, embedding=vector,
                                     embedding_model=embedding_model, tags=tags or [], step_id=step_id)
    milvus.passages_upsert_later(ids=[passage.pk])
    return passage


# --- sources and documents -----------------------------------------------------------------------
# A source is a folder of documents; its documents' passages are searched by the agents it is
# attached to (memory.search.PassageScope), once a document is 'done'. Ingestion itself is in
# memory/ingestion.py and runs in the worker (memory.tasks.ingest_document).


DOCUMENT_RUNNING = (Document.Status.PENDING, Document.Status.PARSING, Document.Status.EMBEDDING)


def source_create(*, owner, name: str, description: str = "") -> Source:
    name = name.strip()
    if not name:
        raise ValueError("a source needs a name")
    try:
        with transaction.atomic():
            return Source.objects.create(owner=owner, name=name, description=description)
    except IntegrityError:
        raise ValueError(f"a source named {name!r} already exists") from None


def _queue_ingestion(document_id: int) -> None:
    transaction.on_commit(lambda: _ingest_soon(document_id))


def _ingest_soon(document_id: int) -> None:
    from memory.tasks import ingest_document

    try:
        ingest_document.delay(document_id)
    except REDIS_UNREACHABLE:
        # the document is stored and waits, pending: documents_sweep queues it once Redis is back
        logger.warning("Redis is not reachable: document %s waits to be queued", document_id)


def documents_sweep(*, requeue_after: float) -> int:
    """Queue again the ingestion of documents nobody works on: pending for `requeue_after` seconds
    (their task was lost: Redis was down as they were uploaded), or left parsing or embedding by a
    worker that died (nobody holds their lock). Returns how many. A duplicate task costs nothing: a
    run takes the document's lock and leaves a document that is not pending or left mid-run."""
    from memory.ingestion import DOCUMENT_LOCK_CLASS

    cutoff = timezone.now() - timedelta(seconds=requeue_after)
    queued = 0
    for document_id in Document.objects.filter(status__in=DOCUMENT_RUNNING, updated_at__lt=cutoff).values_list(
            "pk", flat=True):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [DOCUMENT_LOCK_CLASS, document_id])
            if not cursor.fetchone()[0]:
                continue  # a worker is at it
            cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [DOCUMENT_LOCK_CLASS, document_id])
        # the next sweep waits another `requeue_after` for this one
        Document.objects.filter(pk=document_id).update(updated_at=timezone.now())
        _ingest_soon(document_id)
        queued += 1
    if queued:
        logger.warning("documents sweep: queued the ingestion of %s documents again", queued)
    return queued


def document_add(*, owner, source: Source, file: UploadedFile | File | str | Path, filename: str = "",
                 queue: bool = True) -> Document:
    """Store an uploaded file (or a file at a path) in a source and queue its ingestion.

    A file over settings.UPLOAD_MAX_BYTES is not stored: its document ends in error at once. A file
    that would take the owner's stored documents past settings.UPLOAD_QUOTA_BYTES raises
    UploadQuotaExceeded, with no document. `queue=False` leaves ingestion to the caller (the
    load_source command runs it in-process)."""
    if source.owner_id != owner.pk:
        raise PermissionError("that source belongs to someone else")
    if isinstance(file, (str, Path)):
        path = Path(file)
        filename = filename or path.name
        size = path.stat().st_size
        opened = None
    else:
        filename = filename or Path(getattr(file, "name", "") or "document").name
        size = file.size
        opened = file
    # a name, never a path into MEDIA_ROOT. The name is cleaned, not refused as typed text is: it comes
    # from the sender's disk, and PostgreSQL (NUL) or the file system (a lone surrogate) cannot store some
    filename = "".join(c for c in filename if c != "\x00" and not "\ud800" <= c <= "\udfff")
    filename = Path(filename).name[:255] or "document"
    document = Document(owner=owner, source=source, filename=filename, size=size)
    if size > settings.UPLOAD_MAX_BYTES:
        document.status = Document.Status.ERROR
        document.error = too_large(size)
        document.save()
        return document
    with transaction.atomic():
        # the owner's row locked: two uploads at once cannot both fit in what is left of the quota
        get_user_model().objects.select_for_update().get(pk=owner.pk)
        used = Document.objects.filter(owner=owner).exclude(file="").aggregate(total=Sum("size"))["total"] or 0
        if used + size > settings.UPLOAD_QUOTA_BYTES:
            raise UploadQuotaExceeded(size=size, used=used, quota=settings.UPLOAD_QUOTA_BYTES)
        if opened is None:
            with open(path, "rb") as handle:
                document.file.save(filename, File(handle), save=False)
        else:
            document.file.save(filename, opened, save=False)
        try:
            document.save()
        except Exception:
            document.file.delete(save=False)  # no file without its row
            raise
    if queue:
        _queue_ingestion(document.pk)
    return document


def document_cancel(*, document: Document) -> Document:
    """Stop an ingestion that is queued or running; its passages go at once, and the run stops at
    its next batch."""
    stopped = Document.objects.filter(pk=document.pk, status__in=DOCUMENT_RUNNING).update(
        status=Document.Status.CANCELLED, error="cancelled", updated_at=timezone.now())
    document.refresh_from_db()
    if not stopped:
        raise ValueError(f"{document.filename} is not being ingested (it is {document.status})")
    Passage.objects.filter(document=document).delete()
    milvus.passages_delete_later(document_ids=[document.pk])
    from memory.ingestion import document_progress_publish

    document_progress_publish(document)
    return document


def document_reingest(*, document: Document) -> Document:
    """Ingest again from the stored file; a run in progress stops and the new one starts clean."""
    Document.objects.filter(pk=document.pk).update(
        status=Document.Status.PENDING, pages_total=0, pages_parsed=0, chunks_total=0, chunks_embedded=0, error="",
        updated_at=timezone.now())
    Passage.objects.filter(document=document).delete()
    milvus.passages_delete_later(document_ids=[document.pk])
    document.refresh_from_db()
    _queue_ingestion(document.pk)
    return document


def document_delete(*, document: Document) -> None:
    """The document, its passages and its stored file. A run in progress stops at its next batch."""
    file = document.file
    with transaction.atomic():
        # locked first: a batch of the ingestion's committing meanwhile (its foreign key check shares the
        # row) then waits and fails, where it could have landed after its passages were deleted
        Document.objects.select_for_update().filter(pk=document.pk).first()
        milvus.passages_delete_later(document_ids=[document.pk])  # once this commits
        Passage.objects.filter(document=document).delete()
        document.delete()
    if file:
        transaction.on_commit(lambda: file.delete(save=False))


def source_attach(*, source: Source, agent) -> None:
    """The source's documents become part of the agent's archival memory."""
    if source.owner_id != agent.owner_id:
        raise PermissionError("the source and the agent belong to different users")
    other = (Passage.objects.filter(document__source=source).exclude(embedding_model=agent.embedding_model)
             .values_list("embedding_model", flat=True).first())
    if other:  # vectors of two models are never compared: search by meaning would silently miss them
        raise ValueError(f"{source.name} is embedded with {other}, but {agent.name} uses {agent.embedding_model}")
    source.agents.add(agent)


def source_detach(*, source: Source, agent) -> None:
    """The agent no longer finds the source's passages; the source and its documents stay."""
    source.agents.remove(agent)


def source_delete(*, source: Source) -> None:
    """The source with all its documents, their passages and their stored files."""
    files = [d.file for d in source.documents.all() if d.file]
    with transaction.atomic():
        milvus.passages_delete_later(document_ids=source.documents.values_list("pk", flat=True))  # once this commits
        Passage.objects.filter(document__source=source).delete()
        source.delete()  # documents go with it; a run in progress stops at its next batch
    for file in files:
        transaction.on_commit(lambda file=file: file.delete(save=False))


# --- used by the REST API ------------------------------------------------------------------------


def passages_insert_many(*, owner_id: int, agent_id: int, passages: list[dict], embedding_model: str) -> list[Passage]:
    """Many passages of an agent's archival memory ({"text", "tags", "created_at"}), embedded in batches.
    Call it outside a transaction: the embedder may be a remote server."""
    embedder = get_embedder(embedding_model)
    ensure_index(embedding_model, embedder.dimensions)
    vectors = embedder.embed([p["text"] for p in passages])
    rows = Passage.objects.bulk_create(
        Passage(owner_id=owner_id, agent_id=agent_id, text=p["text"], tags=p.get("tags") or [], embedding=vector,
                embedding_model=embedding_model) for p, vector in zip(passages, vectors))
    dated = [row for row, p in zip(rows, passages) if p.get("created_at")]
    for row, p in zip(rows, passages):
        if p.get("created_at"):
            row.created_at = p["created_at"]  # auto_now_add set it to now on insert
    Passage.objects.bulk_update(dated, ["created_at"])
    milvus.passages_upsert_later(ids=[row.pk for row in rows])  # with their dates
    return rows


def source_update(*, source: Source, **changes) -> Source:
    """Rename a folder or change its description; a name taken by another of the owner's folders
    raises IntegrityError."""
    unknown = set(changes) - {"name", "description"}
    if unknown:
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    if "name" in changes and not changes["name"].strip():
        raise ValueError("a source needs a name")
    for name, value in changes.items():
        setattr(source, name, value.strip() if name == "name" else value)
    with transaction.atomic():
        source.save(update_fields=list(changes))
    return source


def document_upload(*, owner, source: Source, file, filename: str, duplicate_handling: str = "suffix") -> Document | None:
    """document_add with Letta's choices for a name already in the folder: "skip" keeps the old file
    and returns it, "error" raises FileExistsError, "suffix" stores "name (2).pdf", "replace" deletes
    the old file first."""
    existing = Document.objects.filter(source=source, filename=filename).first()
    if existing is not None:
        if duplicate_handling == "skip":
            return existing
        if duplicate_handling == "error":
            raise FileExistsError(f"{source.name} already has a file named {filename!r}")
        if duplicate_handling == "replace":
            document_delete(document=existing)
        else:
            stem, dot, extension = filename.rpartition(".") if "." in filename else (filename, "", "")
            taken = set(Document.objects.filter(source=source).values_list("filename", flat=True))
            number = 2
            while (candidate := f"{stem} ({number}){dot}{extension}") in taken:
                number += 1
            filename = candidate
    return document_add(owner=owner, source=source, file=file, filename=filename)
