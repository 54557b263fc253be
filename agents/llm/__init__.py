"""LLM clients behind one small interface (agents.engine.types.LLM), chosen by settings and by
the agent's model handle.

A handle is "<server>/<model>": "openai" is the operator's server (OPENAI_BASE_URL, api.openai.com
when unset; so named whatever it is, as Letta names its OpenAI-compatible provider), any other
prefix one of the agent owner's model servers (agents.models.ModelServer). A name whose prefix
is neither is a model of the operator's server as it is ("meta-llama/Llama-3.1-8B" on vLLM)."""

from django.conf import settings

from agents.engine.types import LLM
from agents.llm.keys import KeyUnreadable, key_decrypt
from agents.llm.openai_chat import OpenAIChat

# one real implementation per kind of server, keyed by the prefix of a model handle
LLM_CLIENTS = {"openai": OpenAIChat}
DEFAULT_SERVER = "openai"  # the operator's server in handles; no person's server may take the name


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


# clients by server: "openai" for the operator's, (pk, updated_at) for a person's, so a changed
# address or key makes a new client
_clients: dict[object, LLM] = {}


def get_llm(kind: str = "openai") -> LLM:
    if kind not in _clients:
        _clients[kind] = LLM_CLIENTS[kind](
            base_url=settings.OPENAI_BASE_URL or None, api_key=settings.OPENAI_API_KEY, timeout=settings.LLM_TIMEOUT
        )
    return _clients[kind]


def server_named(agent_model: str, owner_id: int | None):
    """The owner's ModelServer that the handle's prefix names, or None (the operator's server)."""
    prefix, _, rest = agent_model.strip().partition("/")
    if not rest or prefix == DEFAULT_SERVER or owner_id is None:
        return None
    from agents.selectors import model_server_named  # agents.selectors imports this module

    return model_server_named(owner_id=owner_id, name=prefix)


def served_model_name(agent_model: str, server) -> str:
    """The bare model name requests carry, the handle's server (server_named) known: a server's name
    never reaches the server."""
    return agent_model.strip().partition("/")[2] if server is not None else model_name(agent_model)


def agent_model_name(agent) -> str:
    return served_model_name(agent.model, server_named(agent.model, agent.owner_id))


def get_llm_for(agent) -> LLM:
    """The client of the server the agent's model handle names: one of its owner's, or the
    operator's. The server's key is decrypted only here, into the client."""
    server = server_named(agent.model, agent.owner_id)
    if server is None:
        return get_llm()
    key = (server.pk, server.updated_at)
    if key not in _clients:
        try:
            api_key = key_decrypt(server.api_key_encrypted)
        except KeyUnreadable as error:
            raise LLMNotConfigured(f"Model server {server.name}: {error}.") from None
        for old in [k for k in _clients if isinstance(k, tuple) and k[0] == server.pk]:
            del _clients[old]  # the server's address or key changed since
        _clients[key] = OpenAIChat(base_url=server.base_url, api_key=api_key, timeout=settings.LLM_TIMEOUT)
    return _clients[key]
