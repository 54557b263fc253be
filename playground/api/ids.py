"""Letta-style string ids for our integer keys: "agent-12", "block-3", "message-40".

Letta's own ids are "<kind>-<uuid4>"; the official SDK does not check their format, so a prefix
and our primary key keep ids readable and let every route tell an agent id from a block id.
"""

import re

from rest_framework.exceptions import NotFound

MAX_PK = 2**63 - 1  # bigint: a larger number would reach PostgreSQL as an out-of-range error
_ID = re.compile(r"^([a-z]+)-(\d{1,19})$")

# kind in the id -> what a person calls it, for error messages
NOUNS = {"agent": "agent", "block": "block", "message": "message", "passage": "passage", "run": "run",
         "step": "step", "source": "folder", "file": "file", "group": "group",
         "provider": "model server", "replay": "replay", "rewind": "rewind"}


def to_id(kind: str, pk: int | None) -> str | None:
    return None if pk is None else f"{kind}-{pk}"


def from_id(kind: str, value: object) -> int:
    """The key inside an id of this kind; NotFound (404) for anything else, so a malformed id
    answers like an id that belongs to nobody."""
    match = _ID.match(value) if isinstance(value, str) else None
    if match is None or match[1] != kind or int(match[2]) > MAX_PK:
        raise NotFound(f"No {NOUNS.get(kind, kind)} with id {str(value)[:100]!r}.")
    return int(match[2])


def from_ids(kind: str, values: list[str] | None) -> list[int]:
    return [from_id(kind, value) for value in values or []]
