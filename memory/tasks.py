from celery import shared_task

from memory.services import messages_embed


@shared_task(name="memory.embed_messages", ignore_result=True)
def embed_messages(message_ids: list[int]) -> None:
    """Embed new messages for recall search; a turn never waits for this."""
    messages_embed(message_ids=message_ids)
