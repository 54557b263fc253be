"""The one module that imports the `openai` SDK.

Everything else talks to OpenAI-compatible servers through these functions and sees only
`ProviderError`, whose `retryable` and `context_overflow` say what the caller can do about it.
"""

from collections.abc import Iterator
from urllib.parse import urlsplit

import openai

from memory.errors import ProviderError

try:  # the transport under the SDK: httpx2 in openai 3, httpx before
    import httpx2 as _http
except ImportError:  # pragma: no cover
    import httpx as _http  # type: ignore[no-redef]

__all__ = ["ProviderError", "create_embeddings", "list_models", "make_client", "server_json", "stream_chat",
           "translate_error"]

# local servers (llama.cpp, vLLM, Ollama) ignore the key, but the SDK insists on one
PLACEHOLDER_API_KEY = "not-needed"

# lower-cased fragments that servers use to say the prompt does not fit the context window
# (OpenAI, vLLM, llama.cpp, Ollama, Anthropic-compatible proxies)
CONTEXT_OVERFLOW_HINTS = (
    "context_length_exceeded",
    "maximum context length",
    "context length",
    "context size",
    "exceed_context_size",
    "too many tokens",
    "prompt is too long",
)


def make_client(*, base_url: str | None, api_key: str | None, timeout: float, max_retries: int = 0) -> openai.OpenAI:
    """A client for an OpenAI-compatible server; base_url None means api.openai.com.

    max_retries defaults to 0 because our Celery tasks retry retryable errors themselves.
    """
    return openai.OpenAI(base_url=base_url or None, api_key=api_key or PLACEHOLDER_API_KEY,
                         timeout=timeout, max_retries=max_retries)


def _origin(request: object) -> str:
    try:
        url = urlsplit(str(request.url))  # type: ignore[attr-defined]
    except (AttributeError, RuntimeError):  # no request attached
        return "(unknown address)"
    # not netloc: a base URL may carry a key (http://user:key@host), and this message reaches users
    host = f"[{url.hostname}]" if ":" in (url.hostname or "") else url.hostname
    return f"{url.scheme}://{host}" + (f":{url.port}" if url.port else "")


def _timeout_seconds(request: object) -> float | None:
    try:
        timeout = request.extensions.get("timeout", {})  # type: ignore[attr-defined]
        return timeout.get("read") or timeout.get("connect")
    except (AttributeError, RuntimeError):
        return None


def _detail(exc: openai.APIStatusError) -> str:
    """The server's own error message, without the SDK's "Error code: 500 - {...}" wrapping."""
    body = exc.body
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
        for key in ("message", "detail"):
            if body.get(key):
                return str(body[key])
    try:
        text = exc.response.text.strip()
    except Exception:  # a streamed response that was never read
        text = ""
    return (text or exc.message)[:500]


def _request_of(exc: Exception) -> object:
    try:
        return exc.request  # type: ignore[attr-defined]
    except RuntimeError:  # httpx raises when no request is attached
        return None


def _timed_out(request: object) -> ProviderError:
    seconds = _timeout_seconds(request)
    after = f" after {seconds:g} s" if seconds else ""
    return ProviderError(f"LLM server timed out{after}", retryable=True)


def translate_error(exc: Exception) -> ProviderError:
    """A ProviderError for an exception raised by the SDK (or its HTTP transport)."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, openai.APITimeoutError):
        return _timed_out(_request_of(exc))
    if isinstance(exc, openai.APIConnectionError):
        cause = f" ({exc.__cause__})" if exc.__cause__ else ""
        return ProviderError(f"could not connect to LLM server at {_origin(_request_of(exc))}{cause}", retryable=True)
    if isinstance(exc, openai.APIStatusError):
        status = exc.status_code
        detail = _detail(exc)
        message = f"LLM server returned {status}: {detail}"
        if 400 <= status < 500 and status != 429:
            haystack = f"{exc.code or ''} {detail}".lower()
            if any(hint in haystack for hint in CONTEXT_OVERFLOW_HINTS):
                return ProviderError(message, status=status, context_overflow=True)
        # the SDK's own retry rule: request timeout, conflict, rate limit, server errors
        return ProviderError(message, status=status, retryable=status in (408, 409, 429) or status >= 500,
                             retry_after=_retry_after(exc.response.headers.get("retry-after")))
    # errors in the middle of a stream come straight from the transport
    if isinstance(exc, _http.TimeoutException):
        return _timed_out(_request_of(exc))
    if isinstance(exc, _http.TransportError):
        return ProviderError(f"connection to LLM server lost: {exc}", retryable=True)
    if isinstance(exc, openai.APIError):
        return ProviderError(f"LLM server sent an unexpected response: {exc.message}")
    return ProviderError(f"LLM call failed: {exc}")


def _retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (the HTTP-date form is rare from LLM servers and read as absent)."""
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None


def _translated(stream: openai.Stream[object]) -> Iterator[object]:
    try:
        yield from stream
    except (openai.OpenAIError, _http.HTTPError) as exc:
        raise translate_error(exc) from exc
    except ValueError as exc:  # a `data:` line that is not JSON
        raise ProviderError(f"LLM server sent a chunk that is not JSON ({exc})", retryable=True) from exc
    finally:
        stream.close()  # frees the connection when the caller stops early


def stream_chat(client: openai.OpenAI, **request: object) -> Iterator[object]:
    """Send a chat completion request with stream=True and iterate over its chunks, as the server
    sent them (decoded JSON, dicts from any well-behaved server; the caller checks the shapes).

    HTTP errors are raised here, before the first chunk; errors in mid-stream while iterating.
    Both as ProviderError.
    """
    try:
        # the SDK's plain post: `chat.completions.create` first rebuilds the whole request through
        # its typed-params transform, about 8 ms for a 50-message context, growing with it; and
        # chunks left untyped: building a ChatCompletionChunk model costs ~0.07 ms, for every streamed token
        stream = client.post("/chat/completions", body={**request, "stream": True}, cast_to=object,
                             stream=True, stream_cls=openai.Stream[object])
    except (openai.OpenAIError, _http.HTTPError) as exc:
        raise translate_error(exc) from exc
    return _translated(stream)


def create_embeddings(client: openai.OpenAI, model: str, texts: list[str]) -> list[list[float]]:
    """Embed `texts` in one request; vectors in the order of `texts`."""
    if not texts:
        return []
    try:
        # "float" because local servers do not all speak the SDK's default base64
        response = client.embeddings.create(model=model, input=texts, encoding_format="float")
    except (openai.OpenAIError, _http.HTTPError) as exc:
        raise translate_error(exc) from exc
    data = sorted(response.data, key=lambda item: item.index)
    if len(data) != len(texts):
        raise ProviderError(f"LLM server returned {len(data)} embeddings for {len(texts)} texts")
    return [list(item.embedding) for item in data]


def list_models(client: openai.OpenAI) -> list[dict]:
    """GET {base}/models: each entry as the server sent it, with what servers add beyond OpenAI's
    fields (vLLM's max_model_len, llama.cpp's meta), which the SDK's typed Model would not keep."""
    body = server_json(client, "get", "/models")
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, list):
        raise ProviderError("LLM server answered /models without a list of models")
    return [entry for entry in data if isinstance(entry, dict) and isinstance(entry.get("id"), str)]


def server_json(client: openai.OpenAI, method: str, path: str, body: dict | None = None) -> object:
    """A plain JSON request to the client's server, under its key and time-out: a path relative to
    its base URL, or an absolute URL for routes outside the OpenAI API (Ollama's /api/show,
    llama.cpp's /props)."""
    try:
        if method == "get":
            return client.get(path, cast_to=object)
        return client.post(path, body=body, cast_to=object)
    except (openai.OpenAIError, _http.HTTPError) as exc:
        raise translate_error(exc) from exc
    except ValueError as exc:  # an answer that is not JSON
        raise ProviderError(f"LLM server sent an answer that is not JSON ({exc})") from exc
