"""Channels groups: the one way anything is sent to watchers (`send`), and the one way to wait on a
group (`listen`). Agent events (agents.events) and document progress (memory.ingestion) both go
through here.

What is sent may also be kept, in order, in a log (`send(..., log=key)`): a Redis stream whose
entries are numbered 1, 2, 3, ... (their ids are "0-1", "0-2", ...), kept for EVENT_LOG_SECONDS after
the last one. A reader (`Log`) takes the entries after any number, and waits for the next ones: a
client that lost its connection reads on from the last number it saw."""

import asyncio
import json
import logging
import os
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio
from channels.layers import get_channel_layer
from django.conf import settings
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)


class _Publisher:
    """Sends messages from sync code through one event loop of its own, in the order they were sent.

    `async_to_sync(group_send)` would build a new event loop, and so a new Redis connection, for
    every message: a few milliseconds each, a dozen times a turn."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.pid: int | None = None

    def _start(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.queue: asyncio.Queue = asyncio.Queue()
        ready = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.loop.create_task(self._drain())
            self.loop.call_soon(ready.set)
            self.loop.run_forever()

        threading.Thread(target=run, name="broadcast", daemon=True).start()
        ready.wait()
        self.pid = os.getpid()

    async def _drain(self) -> None:
        logs = redis.asyncio.Redis.from_url(settings.REDIS_URL, socket_timeout=10)
        while True:
            batch = [await self.queue.get()]  # and whatever else is waiting: the log takes them in one round trip
            while not self.queue.empty():
                batch.append(self.queue.get_nowait())
            await asyncio.gather(self._send_all(batch), self._keep_all(logs, batch))
            for *_, done in batch:
                if done is not None:
                    done.set()

    @staticmethod
    async def _send_all(batch: list) -> None:
        layer = get_channel_layer()
        for group, message, _, _ in batch:
            try:
                await layer.group_send(group, message)
            except Exception:  # a watcher missing a message must not break the work that sent it
                logger.warning("could not send a message to %s", group, exc_info=True)

    @staticmethod
    async def _keep_all(logs: redis.asyncio.Redis, batch: list) -> None:
        kept = [(log, message) for _, message, log, _ in batch if log is not None]
        if not kept:
            return
        try:
            async with logs.pipeline(transaction=False) as pipe:
                for log, message in kept:
                    pipe.eval(_APPEND, 1, log, json.dumps(message, ensure_ascii=False), int(settings.EVENT_LOG_SECONDS))
                await pipe.execute()
        except Exception:  # nor a reader that cannot read back
            logger.warning("could not keep %s messages in their logs", len(kept), exc_info=True)

    def send(self, group: str, message: dict, *, wait: bool, log: str | None) -> None:
        with self.lock:
            if self.pid != os.getpid():  # first use, or a forked child
                self._start()
        done = threading.Event() if wait else None
        self.loop.call_soon_threadsafe(self.queue.put_nowait, (group, message, log, done))
        if done is not None and not done.wait(10):
            logger.warning("a message to %s was not sent within 10 s", group)


# numbered by the log's length: one writer at a time is not needed, the script runs alone in Redis
_APPEND = """
local number = redis.call('XLEN', KEYS[1]) + 1
redis.call('XADD', KEYS[1], '0-' .. number, 'message', ARGV[1])
redis.call('EXPIRE', KEYS[1], ARGV[2])
return number
"""

_publisher = _Publisher()


def send(group: str, message: dict, *, wait: bool = False, log: str | None = None) -> None:
    """Send a Channels message ({"type": handler name, ...}) to a group, after every message sent
    before it, and keep it in the log `log` if given; `wait` returns only once it is out."""
    _publisher.send(group, message, wait=wait, log=log)


class Log:
    """Reads a log of messages (`send(..., log=key)`) by number, waiting for new ones."""

    BLOCK_SECONDS = 4.0  # under redis-py's socket time-out, so a wait with nothing new is no error

    def __init__(self, key: str) -> None:
        self.key = key
        self.client = redis.asyncio.Redis.from_url(settings.REDIS_URL, socket_timeout=self.BLOCK_SECONDS + 6)

    async def after(self, number: int, wait: float) -> list[tuple[int, dict]]:
        """The messages numbered above `number`, in order, waiting up to `wait` seconds for one."""
        block = max(1, int(min(wait, self.BLOCK_SECONDS) * 1000))
        reply = await self.client.xread({self.key: f"0-{number}"}, count=500, block=block)
        return [(int(entry_id.split(b"-")[1]), json.loads(fields[b"message"]))
                for _, entries in reply for entry_id, fields in entries]

    async def length(self) -> int:
        return await self.client.xlen(self.key)

    async def close(self) -> None:
        await self.client.aclose()


class Listener:
    """A channel added to groups; `receive` waits for the next message, or None after `timeout`."""

    def __init__(self, layer, channel: str, groups: tuple[str, ...]) -> None:
        self.layer, self.channel, self.groups = layer, channel, groups
        self._pending: asyncio.Future | None = None

    @classmethod
    async def open(cls, *groups: str) -> "Listener":
        """Listening starts here: whatever is sent to the groups from now on is kept for `receive`."""
        layer = get_channel_layer()
        listener = cls(layer, await layer.new_channel(), groups)
        for group in groups:
            await layer.group_add(group, listener.channel)
        return listener

    async def receive(self, timeout: float) -> dict | None:
        # one receive at a time, never cancelled mid-wait: channels_redis drops what a cancelled
        # receive had buffered, so a wait that times out is picked up again by the next call
        if self._pending is None:
            self._pending = asyncio.ensure_future(self.layer.receive(self.channel))
        done, _ = await asyncio.wait({self._pending}, timeout=timeout)
        if not done:
            return None
        pending, self._pending = self._pending, None
        if isinstance(pending.exception(), RedisTimeoutError):
            # redis-py >= 8 gives sockets a 5 s read time-out, the length of channels_redis's
            # blocking pop: an idle wait can end in this error; it only means "nothing yet"
            return None
        return pending.result()

    async def close(self) -> None:
        if self._pending is not None:
            self._pending.cancel()
        for group in self.groups:
            await self.layer.group_discard(group, self.channel)


@asynccontextmanager
async def listen(*groups: str) -> AsyncIterator[Listener]:
    """Receive what is sent to these groups from now on, until the block ends."""
    listener = await Listener.open(*groups)
    try:
        yield listener
    finally:
        await listener.close()
