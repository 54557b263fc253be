"""Text from outside (a model's output, a file) made storable: PostgreSQL refuses NUL in text, and a
lone surrogate is no UTF-8. Dependency-free, for the engine too."""

import re
from typing import Any

UNSAFE = re.compile(r"[\x00\ud800-\udfff]")
SURROGATE = re.compile(r"[\ud800-\udfff]")
REPLACEMENT = "\ufffd"


def clean(text: str, replacement: str = REPLACEMENT) -> str:
    """The text with each NUL and lone surrogate replaced (by U+FFFD, unless told otherwise); a
    surrogate pair left split in two (as broken PDF font maps leave them) is joined first."""
    if SURROGATE.search(text):
        text = text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "surrogatepass")
    return UNSAFE.sub(replacement, text)


def clean_json(value: Any) -> Any:
    """A parsed JSON value with every string in it cleaned (keys too)."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, list):
        return [clean_json(item) for item in value]
    if isinstance(value, dict):
        return {clean(key): clean_json(item) for key, item in value.items()}
    return value
