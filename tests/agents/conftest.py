"""Fixtures of the engine's tests: one turn on an in-memory agent against the scripted server."""

import pytest

from agents.engine.loop import Event, Turn, TurnSettings
from agents.llm.openai_chat import OpenAIChat
from memory.tokens import tokenizer_for_model
from tests.agents.in_memory_store import InMemoryStore, make_state


@pytest.fixture
def run(fake_llm):
    """Runs one turn on a fresh in-memory agent; returns (result, store, events)."""

    def run_turn(event: Event, store: InMemoryStore | None = None, tool_runner=None, **settings):
        store = store or InMemoryStore(make_state())
        events = []
        tokenizer, approximate = tokenizer_for_model("gpt-4o-mini")
        turn = Turn(store=store, llm=OpenAIChat(base_url=fake_llm.base_url, api_key="test", timeout=5),
                    publish=events.append, tokenizer=tokenizer, approximate=approximate,
                    settings=TurnSettings(backoff_seconds=0.01, **settings), sleep=lambda s: None,
                    tool_runner=tool_runner)
        return turn.run(event), store, events

    return run_turn
