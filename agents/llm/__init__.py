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


def llm_configured(agent_model: str = "") -> bool:
    return bool((agent_model or settings.LLM_MODEL).strip())


_clients: dict[str, LLM] = {}


def get_llm(kind: str = "openai") -> LLM:
    if kind not in _clients:
        _clients[kind] = LLM_CLIENTS[kind](
            base_url=settings.OPENAI_BASE_URL or None, api_key=settings.OPENAI_API_KEY, timeout=settings.LLM_TIMEOUT
        )
    return _clients[kind]
