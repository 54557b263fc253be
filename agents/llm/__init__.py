"""LLM clients behind one small interface (agents.engine.types.LLM), chosen by settings."""

from django.conf import settings

from agents.engine.types import LLM
from agents.llm.openai_chat import OpenAIChat

# one real implementation per kind of server, keyed by the prefix of a model handle
LLM_CLIENTS = {"openai": OpenAIChat}


class LLMNotConfigured(Exception):
    pass


NOT_CONFIGURED = (
    "No LLM is configured: set LLM_MODEL (and OPENAI_BASE_URL / OPENAI_API_KEY for your server), "
    "or give the agent a model."
)


def model_name(agent_model: str) -> str:
    """The model a request names: the agent's own or LLM_MODEL, without a Letta-style "openai/"
    handle prefix; "" when neither is set."""
    name = (agent_model or settings.LLM_MODEL).strip()
    provider, _, rest = name.partition("/")
    return rest if provider in LLM_CLIENTS and rest else name


# context windows of known models, in tokens; an agent's window may not exceed its model's
MODEL_WINDOWS = {
    "gpt-4o": 128_000, "gpt-4o-mini": 128_000, "gpt-4-turbo": 128_000, "gpt-4": 8_192, "gpt-3.5-turbo": 16_385,
    "gpt-4.1": 1_047_576, "gpt-4.1-mini": 1_047_576, "gpt-4.1-nano": 1_047_576, "gpt-5": 400_000,
    "gpt-5-mini": 400_000, "gpt-5-nano": 400_000, "o1": 200_000, "o3": 200_000, "o3-mini": 200_000, "o4-mini": 200_000,
}


def model_window(model: str) -> int | None:
    """The model's own context window, when known (dated snapshots count as their family)."""
    name = model_name(model)
    matches = [known for known in MODEL_WINDOWS if name == known or name.startswith(known + "-")]
    return MODEL_WINDOWS[max(matches, key=len)] if matches else None


def llm_configured(agent_model: str = "") -> bool:
    return bool((agent_model or settings.LLM_MODEL).strip())


_clients: dict[str, LLM] = {}


def get_llm(kind: str = "openai") -> LLM:
    if kind not in _clients:
        _clients[kind] = LLM_CLIENTS[kind](
            base_url=settings.OPENAI_BASE_URL or None, api_key=settings.OPENAI_API_KEY, timeout=settings.LLM_TIMEOUT
        )
    return _clients[kind]
