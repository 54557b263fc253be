"""Exact token counts from a server's own tokenizer, where the model is not one tiktoken knows.

vLLM and llama.cpp tokenize with the model's tokenizer on request, at POST {root}/tokenize (root: the
base URL without /v1): vLLM takes {"model", "prompt"} and answers {"count", "tokens", "max_model_len"};
llama.cpp takes {"content"} and answers {"tokens": [...]}. One probe finds out which a server speaks
(or that it has neither: OpenAI, Ollama), and the answer is kept per server.

Counting stays bounded: the context compiler counts each message locally as before (o200k_base, an
estimate), and asks the server once per tier of the compiled prompt (instructions, tool schemas, core
memory, memory metadata, summary, messages), not per message; tiers whose text did not change since
the last step (the instructions, the tools, usually core memory) come from a cache. Each call has a
short time-out, and a server that fails is counted locally, marked approximate, for a while.
"""

import threading
import time
from collections import OrderedDict
from urllib.parse import urlsplit, urlunsplit

from memory.errors import ProviderError
from memory.openai_api import make_client, server_json
from memory.tokens import FALLBACK_ENCODING, TiktokenTokenizer, Tokenizer, tokenizer_for_model

TIMEOUT_SECONDS = 5.0
RETRY_AFTER_SECONDS = 300.0  # a server without the endpoint, or that failed, is asked again after this
CACHE_SIZE = 4096  # tier texts counted, over every server
PROBE_TEXT = "Hello, world"

_lock = threading.Lock()
_kinds: dict[tuple[str, str], tuple[str | None, float]] = {}  # (root, model) -> ("vllm"|"llamacpp"|None, when)
_counts: OrderedDict[tuple[str, str, str], int] = OrderedDict()  # (root, model, text) -> tokens


def server_root(base_url: str) -> str:
    """The server's address without the OpenAI API's /v1: where /tokenize lives."""
    parts = urlsplit(base_url.rstrip("/"))
    path = parts.path[:-3] if parts.path.endswith("/v1") else parts.path
    return urlunsplit((parts.scheme, parts.netloc, path.rstrip("/"), "", ""))


class TokenizeEndpoint:
    """One server's /tokenize for one model."""

    def __init__(self, *, base_url: str, model: str, api_key: str = "", timeout: float = TIMEOUT_SECONDS) -> None:
        self.root, self.model = server_root(base_url), model
        self.client = make_client(base_url=base_url, api_key=api_key, timeout=timeout)

    def _post(self, body: dict) -> dict:
        answer = server_json(self.client, "post", f"{self.root}/tokenize", body)
        if not isinstance(answer, dict):
            raise ProviderError("the server's /tokenize answered something that is not a JSON object")
        return answer

    def kind(self) -> str | None:
        """"vllm" or "llamacpp" as the server answers; None when it has no /tokenize (asked once a while)."""
        key = (self.root, self.model)
        with _lock:
            known = _kinds.get(key)
        if known is not None and (known[0] is not None or time.monotonic() - known[1] < RETRY_AFTER_SECONDS):
            return known[0]
        kind = None
        try:  # one body both understand: vLLM reads "prompt", llama.cpp "content"
            answer = self._post({"model": self.model, "prompt": PROBE_TEXT, "content": PROBE_TEXT,
                                 "add_special_tokens": False, "add_special": False})
            if isinstance(answer.get("count"), int):
                kind = "vllm"
            elif isinstance(answer.get("tokens"), list):
                kind = "llamacpp"
        except ProviderError:
            pass
        with _lock:
            _kinds[key] = (kind, time.monotonic())
        return kind

    def count(self, text: str) -> int:
        """Tokens of the text as the server's tokenizer makes them (no special tokens). Raises ProviderError."""
        key = (self.root, self.model, text)
        with _lock:
            if key in _counts:
                _counts.move_to_end(key)
                return _counts[key]
        kind = self.kind()
        if kind is None:
            raise ProviderError(f"{self.root} has no /tokenize endpoint")
        if kind == "vllm":
            answer = self._post({"model": self.model, "prompt": text, "add_special_tokens": False})
            count = answer.get("count")
        else:
            tokens = self._post({"content": text, "add_special": False}).get("tokens")
            count = len(tokens) if isinstance(tokens, list) else None
        if not isinstance(count, int):
            raise ProviderError(f"{self.root}/tokenize answered without a token count")
        with _lock:
            _counts[key] = count
            while len(_counts) > CACHE_SIZE:
                _counts.popitem(last=False)
        return count

    def failed(self) -> None:
        """Count this server locally for a while: it did not answer."""
        with _lock:
            _kinds[(self.root, self.model)] = (None, time.monotonic())


class ServerTokenizer(TiktokenTokenizer):
    """Local counts (o200k_base, approximate), and each tier of a compiled prompt counted exactly by the
    server's tokenizer (`count_tiers`, which the context compiler calls once per compile)."""

    def __init__(self, endpoint: TokenizeEndpoint) -> None:
        super().__init__(FALLBACK_ENCODING)
        self.endpoint = endpoint
        self.server_name = ""  # "vllm" or "llamacpp" once a count came from it

    def count_tiers(self, texts: dict[str, str]) -> dict[str, int] | None:
        """Each tier's text counted by the server; None (count locally, approximate) when it cannot."""
        kind = self.endpoint.kind()
        if kind is None:
            return None
        try:
            counted = {tier: self.endpoint.count(text) if text else 0 for tier, text in texts.items()}
        except ProviderError:
            self.endpoint.failed()
            return None
        self.server_name = kind
        return counted

    def __repr__(self) -> str:
        return f"ServerTokenizer({self.endpoint.root!r}, {self.endpoint.model!r})"


def tokenizer_for(model: str, *, base_url: str | None, api_key: str = "") -> tuple[Tokenizer, bool]:
    """The tokenizer for a model of the server at base_url, and whether its counts are approximate:
    tiktoken's for OpenAI's models (exact), the server's where it has /tokenize (exact once it answers:
    the compiled context says so), else o200k_base (approximate)."""
    tokenizer, approximate = tokenizer_for_model(model)
    if not approximate or not base_url:  # OpenAI's own models, or api.openai.com
        return tokenizer, approximate
    return ServerTokenizer(TokenizeEndpoint(base_url=base_url, model=model, api_key=api_key)), True


def agent_tokenizer(agent) -> tuple[Tokenizer, bool]:
    """The tokenizer for the agent's model, on the server its model handle names."""
    from django.conf import settings

    from agents.llm import served_model_name, server_named
    from agents.llm.keys import KeyUnreadable, key_decrypt

    server = server_named(agent.model, agent.owner_id)
    model = served_model_name(agent.model, server)
    if server is None:
        return tokenizer_for(model, base_url=settings.OPENAI_BASE_URL or None, api_key=settings.OPENAI_API_KEY)
    try:
        api_key = key_decrypt(server.api_key_encrypted)
    except KeyUnreadable:
        api_key = ""
    return tokenizer_for(model, base_url=server.base_url, api_key=api_key)
