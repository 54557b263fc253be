"""Where two LLM requests differ: a replay's from its step's (replay.py), a fork's next one from the step
it was forked before (fork.py)."""

import json
import os

MISSING = object()


def request_differences(stored: dict, new: dict, *, limit: int = 20) -> list[str]:
    """Where two requests differ, as JSON paths a person reads: a text shown around where it changed, a
    tool set as the names it lost and gained; [] when they are equal."""
    found: list[str] = []
    names = [tool_names(r.get("tools")) for r in (stored, new)]
    if names[0] != names[1]:
        lost = [n for n in names[0] if n not in names[1]]
        gained = [n for n in names[1] if n not in names[0]]
        found.append(".tools: " + ", ".join([f"-{n}" for n in lost] + [f"+{n}" for n in gained] or ["reordered"]))

    def walk(a, b, path: str) -> None:
        if len(found) >= limit or a == b or (path == ".tools" and names[0] != names[1]):  # said above, by name
            return
        if isinstance(a, dict) and isinstance(b, dict):
            for key in list(a) + [k for k in b if k not in a]:
                walk(a.get(key, MISSING), b.get(key, MISSING), f"{path}.{key}")
        elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
            for i, (x, y) in enumerate(zip(a, b)):
                walk(x, y, f"{path}[{i}]")
        elif isinstance(a, str) and isinstance(b, str):
            found.append(f"{path}: {_around_change(a, b)}")
        else:
            found.append(f"{path}: {_short(a)} → {_short(b)}")

    walk(stored, new, "")
    return found


def tool_names(tools) -> list[str]:
    """The names of a request's tools, in order."""
    return [(t.get("function") or {}).get("name", "") for t in tools or [] if isinstance(t, dict)]


def _short(value) -> str:
    text = "(none)" if value is MISSING else value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "…"


def _around_change(a: str, b: str, context: int = 40) -> str:
    """Both texts from a little before where they start to differ to a little after where they agree again."""
    start = len(os.path.commonprefix([a, b]))
    same_end = len(os.path.commonprefix([a[start:][::-1], b[start:][::-1]]))
    lo = max(0, start - context)

    def cut(text: str) -> str:
        hi = min(len(text), len(text) - same_end + context)
        piece = text[lo:hi]
        piece = piece if len(piece) <= 240 else piece[:239] + "…"
        return ("…" if lo else "") + piece + ("…" if hi < len(text) else "")

    return f"{cut(a)!r} → {cut(b)!r}"
