"""Token accounting: the cost of compiling and counting a full context, uncached against cached.

    .venv/bin/python bench/tokens.py

Builds agent states whose prompt fills an 8k and a 128k window, then times `compile_context` with
the token caches emptied before each run (every block and message tokenized anew) and with them
warm (as on the second step of a turn, when only the new messages are new). Pure engine: no database.
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "playground.settings")

from agents.engine import prompts  # noqa: E402
from agents.engine.context import compile_context  # noqa: E402
from agents.engine.tools import BASE_SCHEMAS as TOOL_SCHEMAS  # noqa: E402  (the default tool set)
from agents.engine.types import AgentState, BlockView, MessageView  # noqa: E402
from memory import tokens  # noqa: E402

WORDS = ("memory context agent archival recall summary heartbeat persona human block passage window "
         "token search message tool call thought user reply evict flush warning core").split()


def sentence(i: int, n: int = 40) -> str:
    return " ".join(WORDS[(i * 7 + j * 3) % len(WORDS)] + ("." if j % 12 == 11 else "") for j in range(n))


def state_for(window: int) -> AgentState:
    blocks = [BlockView("persona", sentence(1, 300), 5000), BlockView("human", sentence(2, 300), 5000)]
    state = AgentState(agent_id=1, name="Sam", system=prompts.BASE_INSTRUCTIONS.format(name="Sam"), model="gpt-4o-mini",
                       context_window=window, temperature=0.7, warning_share=0.7, evict_share=0.5,
                       completion_reserve=1024, max_steps=10, memory_warning_sent=False, blocks=blocks, messages=[],
                       recall_count=0, archival_count=0)
    tokenizer, approximate = tokens.tokenizer_for_model(state.model)
    i = 0
    while compile_context(state, tools=TOOL_SCHEMAS, tokenizer=tokenizer, approximate=approximate).prompt_tokens < window - 1024 - 200:
        text = sentence(i)
        role = "user" if i % 2 == 0 else "assistant"
        state.messages.append(MessageView(i, role, "user_message" if role == "user" else "assistant", text, text))
        state.recall_count += 1
        i += 1
    return state


def clear_caches() -> None:
    tokens._count.cache_clear()
    tokens._count_sections_by_offsets.cache_clear()


def timed(state: AgentState, *, cached: bool, repeat: int) -> list[float]:
    tokenizer, approximate = tokens.tokenizer_for_model(state.model)
    compile_context(state, tools=TOOL_SCHEMAS, tokenizer=tokenizer, approximate=approximate)  # encodings loaded
    samples = []
    for _ in range(repeat):
        if not cached:
            clear_caches()
        started = time.perf_counter()
        compile_context(state, tools=TOOL_SCHEMAS, tokenizer=tokenizer, approximate=approximate)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    rows, ratios = [], []
    for label, window in (("8k", 8192), ("128k", 131072)):
        state = state_for(window)
        prompt = compile_context(state, tools=TOOL_SCHEMAS, tokenizer=tokens.tokenizer_for_model(state.model)[0],
                                 approximate=False).prompt_tokens
        repeat = 30 if window <= 8192 else 8
        uncached = statistics.median(timed(state, cached=False, repeat=repeat))
        cached = statistics.median(timed(state, cached=True, repeat=repeat))
        rows.append((label, len(state.messages), prompt, uncached, cached))
        ratios.append(f"{label} uncached/cached {uncached / cached:.0f}x")
    print(f"{'window':>7} {'messages':>9} {'prompt tokens':>14} {'uncached ms':>12} {'cached ms':>10}")
    for label, messages, prompt, uncached, cached in rows:
        print(f"{label:>7} {messages:>9} {prompt:>14} {uncached:>12.2f} {cached:>10.3f}")
    print("ratios: " + "; ".join(ratios))


if __name__ == "__main__":
    main()
