"""New messages are embedded in batches: the ids of several turns wait in Redis and one task embeds
them all at once."""

import time

import pytest

from memory import embedding_queue
from memory.embeddings import LocalEmbedder
from memory.models import Message
from memory.services import messages_append
from tests.factories import make_agent


@pytest.fixture
def empty_queue(redis_available):
    embedding_queue.take()
    yield
    embedding_queue.take()


def test_the_first_addition_starts_a_batch_and_taking_it_opens_the_next(empty_queue):
    assert embedding_queue.add([1, 2]) is True
    assert embedding_queue.add([3]) is False  # a batch is already coming
    assert embedding_queue.take() == [1, 2, 3]
    assert embedding_queue.take() == []
    assert embedding_queue.add([4]) is True


@pytest.mark.django_db(transaction=True)
def test_messages_of_several_turns_are_embedded_in_one_batch(empty_queue, settings, monkeypatch, celery_worker):
    settings.EMBED_BATCH_SECONDS = 0.5
    batches = []
    embed = LocalEmbedder.embed

    def recording(self, texts):
        batches.append(len(texts))
        return embed(self, texts)

    monkeypatch.setattr(LocalEmbedder, "embed", recording)
    agent = make_agent()
    for turn in range(3):
        messages_append(agent_id=agent.pk, owner_id=agent.owner_id, messages=[
            {"role": "user", "kind": "user_message", "content": f"question {turn}", "text": f"question {turn}"},
            {"role": "tool", "kind": "tool_result", "content": "ok", "text": "ok"},  # not searched by meaning
            {"role": "assistant", "kind": "assistant", "content": f"answer {turn}", "text": f"answer {turn}"},
        ])
    deadline = time.monotonic() + 30
    while Message.objects.filter(agent=agent, kind__in=["user_message", "assistant"], embedding__isnull=True).exists():
        assert time.monotonic() < deadline, "the messages were not embedded"
        time.sleep(0.05)
    assert batches == [6]
    assert not Message.objects.filter(agent=agent, kind="tool_result", embedding__isnull=False).exists()
