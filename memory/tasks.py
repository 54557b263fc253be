from celery import shared_task

from memory import embedding_queue, word_stats
from memory.ingestion import document_ingest
from memory.openai_api import ProviderError
from memory.services import messages_embed


@shared_task(name="memory.embed_waiting_messages", ignore_result=True)
def embed_waiting_messages() -> None:
    """Embed, in one batch, the new messages waiting for it; a turn never waits for this."""
    messages_embed(message_ids=embedding_queue.take())


@shared_task(bind=True, name="memory.ingest_document", ignore_result=True, acks_late=True, max_retries=3)
def ingest_document(self, document_id: int) -> None:
    """Parse, chunk, embed and insert one document; returns quietly if it is gone or cancelled.
    An embedding server that is down or overloaded is retried with back-off."""
    try:
        document_ingest(document_id=document_id, raise_retryable=self.request.retries < self.max_retries)
    except ProviderError as error:
        raise self.retry(exc=error, countdown=5 * 2 ** self.request.retries)


@shared_task(name="memory.count_words", ignore_result=True)
def count_words(owner_id: int, table: str) -> None:
    """Recount BM25's statistics of an owner's passages or conversation (memory/word_stats.py)."""
    word_stats.recount(owner_id=owner_id, table=table)
