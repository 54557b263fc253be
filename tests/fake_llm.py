"""The scripted OpenAI-compatible server for tests: it lives in agents.llm.scripted (the product's
`replay_scenario` command runs it too); this module re-exports it and adds the pytest fixture."""

import pytest

from agents.llm.scripted import (
    CONTEXT_LENGTH, EMBEDDING_DIMENSIONS, MODELS, NO_SCRIPT, TOOL_NAME, TOOLS_REFUSED, Call, FakeLLM, Response,
    _embedding, _usage, context_overflow, cut, delay, error, fake_tokens, paced, protocol_error, rate_limited,
    raw_stream, text, tokenize_answer, tool_call, tool_calls, tools_refusal,
)

# spelled out rather than `import *`, so linters see every name tests import from here
__all__ = [
    "CONTEXT_LENGTH", "EMBEDDING_DIMENSIONS", "MODELS", "NO_SCRIPT", "TOOL_NAME", "TOOLS_REFUSED", "Call", "FakeLLM",
    "Response", "_embedding", "_usage", "context_overflow", "cut", "delay", "error", "fake_tokens", "paced",
    "protocol_error", "rate_limited", "raw_stream", "text", "tokenize_answer", "tool_call", "tool_calls",
    "tools_refusal", "fake_llm",
]


@pytest.fixture
def fake_llm():
    """A started FakeLLM for one test; point the code under test at `fake_llm.base_url`."""
    with FakeLLM() as server:
        yield server
