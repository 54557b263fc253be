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
