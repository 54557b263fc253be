"""The numbered log kept beside a group's messages (memory.broadcast): numbers from 1 in order, read
from any number on, waited for, and kept for EVENT_LOG_SECONDS."""

import asyncio
import uuid

import pytest

from memory import broadcast
from memory.embedding_queue import client as redis_client


@pytest.fixture
def log_key(redis_available):
    key = f"test-log-{uuid.uuid4().hex}"
    yield key
    redis_client(broadcast.settings.REDIS_URL).delete(key)


def test_messages_are_numbered_in_order_and_read_from_any_number(log_key, settings):
    for n in range(5):
        broadcast.send("test-group", {"type": "test.message", "n": n}, log=log_key, wait=n == 4)

    async def read(after):
        log = broadcast.Log(log_key)
        try:
            return await log.after(after, 0.1)
        finally:
            await log.close()

    assert [(number, m["n"]) for number, m in asyncio.run(read(0))] == [(1, 0), (2, 1), (3, 2), (4, 3), (5, 4)]
    assert [number for number, _ in asyncio.run(read(3))] == [4, 5]
    assert asyncio.run(read(5)) == []
    ttl = redis_client(settings.REDIS_URL).ttl(log_key)
    assert 0 < ttl <= settings.EVENT_LOG_SECONDS


def test_a_reader_waits_for_the_next_message(log_key):
    async def scenario():
        log = broadcast.Log(log_key)
        try:
            waiting = asyncio.ensure_future(log.after(0, 3.0))
            await asyncio.sleep(0.3)
            assert not waiting.done()
            await asyncio.to_thread(broadcast.send, "test-group", {"type": "test.message", "n": 1}, log=log_key,
                                    wait=True)
            return await asyncio.wait_for(waiting, 3.0)
        finally:
            await log.close()

    assert [(number, m["n"]) for number, m in asyncio.run(scenario())] == [(1, 1)]
