"""What agents.services refuses, for the pages and the API to show (both are ValueErrors)."""


class MessageTooLong(ValueError):
    """A message over MESSAGE_MAX_CHARS characters, or over its share of the agent's context window."""


class IdempotencyKeyReused(ValueError):
    """An Idempotency-Key sent again with another message than the one it first queued."""
