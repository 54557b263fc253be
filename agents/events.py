"""The one way agent events leave the worker: published to the agent's Channels group.

The events themselves are made by the constructors of agents.engine.events."""

from django.conf import settings

from agents.engine.events import Event
from memory import broadcast

HANDLER = "agent.event"  # the consumers' method that receives them: agent_event


def agent_group(agent_id: int) -> str:
    return f"agent-{agent_id}"


def run_group(run_id: int) -> str:
    """Where a run's "stop" goes too: for whoever waits for the end of the turn and nothing else."""
    return f"run-{run_id}"


def run_log(run_id: int) -> str:
    """The Redis stream that keeps every event of a run, numbered, for clients that read a run's
    stream from any point (playground/api/turns.py); apart per queue, as test sessions share a Redis."""
    return f"{settings.CELERY_TASK_DEFAULT_QUEUE}:run-events-{run_id}"


def publish(agent_id: int, event: Event) -> None:
    """Send one event to the agent's watchers, and keep it in its run's log.

    Events go out in order; the last of a run ("stop") also goes to the run's group, and waits until
    it is sent, so a turn that has ended has said so."""
    if not isinstance(event, Event):
        raise TypeError(f"publish takes an agents.engine.events.Event, not {type(event).__name__}")
    message = {"type": HANDLER, "event": dict(event)}
    stop = event.kind == "stop"
    log = run_log(event["run_id"]) if event["run_id"] is not None else None
    broadcast.send(agent_group(agent_id), message, wait=stop and event["run_id"] is None, log=log)
    if stop and event["run_id"] is not None:
        broadcast.send(run_group(event["run_id"]), message, wait=True)


def received(message: dict) -> Event:
    """The event inside a message that arrived on an agent's or a run's group."""
    return Event(message["event"])
