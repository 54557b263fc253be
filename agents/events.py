"""The one way agent events leave a turn: published to the agent's Channels group."""

import asyncio
import logging
import os
import threading
from typing import Any

from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)


def agent_group(agent_id: int) -> str:
    return f"agent-{agent_id}"


class _Publisher:
    """Sends events from sync code through one event loop of its own, in the order they were published.

    `async_to_sync(group_send)` would build a new event loop, and so a new Redis connection, for
    every event: a few milliseconds each, a dozen times a turn."""

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

        threading.Thread(target=run, name="agent-events", daemon=True).start()
        ready.wait()
        self.pid = os.getpid()

    async def _drain(self) -> None:
        layer = get_channel_layer()
        while True:
            group, message, done = await self.queue.get()
            try:
                await layer.group_send(group, message)
            except Exception:  # a watcher missing an event must not break the turn
                logger.warning("could not publish an event to %s", group, exc_info=True)
            if done is not None:
                done.set()

    def send(self, group: str, message: dict, *, wait: bool) -> None:
        with self.lock:
            if self.pid != os.getpid():  # first use, or a forked child
                self._start()
        done = threading.Event() if wait else None
        self.loop.call_soon_threadsafe(self.queue.put_nowait, (group, message, done))
        if done is not None:
            done.wait(10)


_publisher = _Publisher()


def run_group(run_id: int) -> str:
    """Where a run's "stop" goes too: for whoever waits for the end of the turn and nothing else."""
    return f"run-{run_id}"


def publish(agent_id: int, event: dict[str, Any]) -> None:
    """Send one event (a dict with a "type" such as "reasoning" or "tool_call") to the agent's watchers.

    Events go out in order; the last of a turn ("stop") also goes to the run's group, and waits until
    it is sent, so a turn that has ended has said so."""
    message = {"type": "agent.event", "event": event}
    stop = event.get("type") == "stop"
    _publisher.send(agent_group(agent_id), message, wait=stop and "run_id" not in event)
    if stop and "run_id" in event:
        _publisher.send(run_group(event["run_id"]), message, wait=True)
