"""Errors that cross layers, with no dependencies: the engine catches them without importing the
SDK or Django."""


class ProviderError(Exception):
    """A failed call to an LLM or embedding server, in words a person can act on."""

    def __init__(self, message: str, *, status: int | None = None, retryable: bool = False,
                 context_overflow: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.retryable = retryable
        self.context_overflow = context_overflow
        self.retry_after = retry_after  # seconds the server asked us to wait (Retry-After), if it said

    def __repr__(self) -> str:
        return (f"ProviderError({self.message!r}, status={self.status}, retryable={self.retryable}, "
                f"context_overflow={self.context_overflow})")


class BlockEditRefused(ValueError):
    """A core memory edit that cannot be made; the message says why, to a person or to the model."""


class BlockLimitExceeded(BlockEditRefused):
    def __init__(self, *, label: str, chars: int, limit: int, used: int) -> None:
        super().__init__(f"{chars} characters, over the limit of {limit}")
        self.label, self.chars, self.limit, self.used = label, chars, limit, used


class BlockLabelTaken(BlockEditRefused):
    """An agent would have two core memory blocks with one label."""


class BlockReadOnly(BlockEditRefused):
    pass


class BlockTextNotFound(BlockEditRefused):
    """The text to replace is not in the block."""


class UploadQuotaExceeded(ValueError):
    """A document that would take its owner's stored files past UPLOAD_QUOTA_BYTES."""

    def __init__(self, *, size: int, used: int, quota: int) -> None:
        super().__init__(f"This file ({_bytes(size)}) does not fit in your storage quota: {_bytes(used)} of "
                         f"{_bytes(quota)} are in use (UPLOAD_QUOTA_BYTES). Delete documents to make room.")
        self.size, self.used, self.quota = size, used, quota


def _bytes(count: int) -> str:
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if count >= size:
            return f"{count / size:.1f} {unit}"
    return f"{count} bytes"
