"""What agents.services refuses, for the pages and the API to show (both are ValueErrors)."""


class MessageTooLong(ValueError):
    """A message over MESSAGE_MAX_CHARS characters, or over its share of the agent's context window."""


class IdempotencyKeyReused(ValueError):
    """An Idempotency-Key sent again with another message than the one it first queued."""


class ModelServerInvalid(ValueError):
    """A model server that cannot be saved: `errors` maps each field to what is wrong with it;
    `taken` when the owner has a server of that name already."""

    def __init__(self, errors: dict[str, str], *, taken: bool = False) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors
        self.taken = taken


class NothingPending(ValueError):
    """A `continue` asked of an agent that has no pending step (Agent.pending_turn)."""


class HistoryMissing(ValueError):
    """A step that cannot be gone back to: it keeps no state (recorded before steps kept theirs)."""


class RewindRefused(ValueError):
    """A rewind (agents/history/rewind.py) that cannot be done, undone or confirmed now: a run of the
    agent is unfinished, the step is another agent's, the agent went on since, or it ended already."""


class ReplayRefused(ValueError):
    """Changes a step's request cannot be replayed with (agents/history/replay.py): an unknown block label,
    tool or model, a temperature out of range, or a system prompt or block change on a step that keeps no state."""


class ScenarioUnavailable(ValueError):
    """A run that cannot be pinned as a scenario (agents/history/scenarios.py): unfinished, without an
    LLM call, or started by something a scenario cannot replay (another agent, a `continue`)."""


class ScenarioInvalid(ValueError):
    """A scenario file that is not one: not JSON, another format or version, or a part missing."""
