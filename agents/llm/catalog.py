"""The models a person may give an agent: every model of each of their model servers and of the
operator's (named "openai", agents.llm.DEFAULT_SERVER), with its context window where the server
reports it.

Each server answers GET {base}/models. Its context windows come from what it says of itself:
vLLM puts `max_model_len` on each entry, llama.cpp `meta.n_ctx_train` (and the window it really
serves as /props' `n_ctx`), Ollama answers POST /api/show per model (the `num_ctx` it runs the model
with, else the model's own `<arch>.context_length`); for OpenAI's models we know the windows
(agents.llm.MODEL_WINDOWS). None where nobody says.

Servers are asked in parallel, each call bounded by MODEL_LIST_TIMEOUT: a server that is down or
slow is named in `Catalog.failures` and the others are listed. A server's answer is reused for
MODEL_LIST_CACHE_SECONDS (Django's cache), keyed by its kind, address and key, so a changed server
is asked again; a failure is remembered for 10 s."""

import hashlib
import re
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache

from agents.llm import DEFAULT_SERVER, model_name, model_window
from agents.llm.keys import KeyUnreadable, key_decrypt
from memory.errors import ProviderError
from memory.openai_api import list_models, make_client, server_json

# what /models lists beside chat models (OpenAI's embedding, speech, image and moderation models);
# an agent could not talk to them
NOT_CHAT = re.compile(r"embed|tts|whisper|dall-e|moderation|transcribe|^sora|^babbage|^davinci|gpt-image", re.I)
PARALLEL = 8  # servers (and Ollama's per-model questions) asked at once
FAILURE_CACHE_SECONDS = 10


@dataclass(frozen=True)
class ServerSpec:
    name: str
    kind: str
    base_url: str  # "" for api.openai.com
    api_key: str = field(default="", repr=False)  # decrypted, in memory only


@dataclass(frozen=True)
class CatalogModel:
    server: str
    kind: str
    model: str
    context_window: int | None

    @property
    def handle(self) -> str:
        return f"{self.server}/{self.model}"


@dataclass
class Catalog:
    models: list[CatalogModel]
    failures: dict[str, str]  # server name -> why it could not be listed

    def find(self, handle: str) -> CatalogModel | None:
        """The model a handle names; a bare name is one of the operator's server, as agents.llm reads it."""
        handle = handle.strip()
        return next((m for m in self.models if m.handle in (handle, f"{DEFAULT_SERVER}/{handle}")), None)


def default_server() -> ServerSpec | None:
    """The operator's server, when one is configured at all."""
    if not (settings.OPENAI_BASE_URL or settings.OPENAI_API_KEY or settings.LLM_MODEL):
        return None
    base_url = (settings.OPENAI_BASE_URL or "").rstrip("/")
    openai = not base_url or urlsplit(base_url).hostname == "api.openai.com"
    return ServerSpec(name=DEFAULT_SERVER, kind="openai" if openai else "openai_compatible", base_url=base_url,
                      api_key=settings.OPENAI_API_KEY)


def model_catalog(*, owner) -> Catalog:
    """Every model of the owner's servers and the operator's, the operator's configured LLM_MODEL first."""
    from agents.selectors import model_servers_of  # agents.selectors imports agents.llm

    servers, failures = [], {}
    if (default := default_server()) is not None:
        servers.append(default)
    for row in model_servers_of(owner=owner):
        try:
            servers.append(ServerSpec(name=row.name, kind=row.kind, base_url=row.base_url,
                                      api_key=key_decrypt(row.api_key_encrypted)))
        except KeyUnreadable as error:
            failures[row.name] = str(error)
    listed, more_failures = servers_models(servers)
    failures.update(more_failures)
    if default is not None and (configured := model_name("")):
        on_default = [m for m in listed if m.server == DEFAULT_SERVER]
        if configured not in [m.model for m in on_default]:  # listed even while its server does not answer
            listed.insert(0, CatalogModel(DEFAULT_SERVER, default.kind, configured, model_window(configured)))
        else:
            listed.sort(key=lambda m: (m.server != DEFAULT_SERVER, m.model != configured))
    return Catalog(models=listed, failures=failures)


def servers_models(servers: list[ServerSpec]) -> tuple[list[CatalogModel], dict[str, str]]:
    """The models of each server in order, and why the others could not be listed."""
    if not servers:
        return [], {}
    # one listing and one round of probes, each bounded by the time-out
    deadline = 2 * settings.MODEL_LIST_TIMEOUT + 0.5
    pool = ThreadPoolExecutor(max_workers=min(PARALLEL, len(servers)), thread_name_prefix="model-catalog")
    try:
        futures = [pool.submit(server_models, server) for server in servers]
        wait(futures, timeout=deadline)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # a server still talking is left to its time-out
    models, failures = [], {}
    for server, future in zip(servers, futures):
        if not future.done():
            failures[server.name] = f"did not answer within {deadline:g} s"
        elif (error := future.exception()) is not None:
            failures[server.name] = str(error) if isinstance(error, ProviderError) else f"{type(error).__name__}: {error}"
        else:
            models += future.result()
    return models, failures


def _cache_key(server: ServerSpec) -> str:
    digest = hashlib.sha256("\0".join((server.kind, server.base_url, server.api_key)).encode()).hexdigest()
    return f"model-catalog:{digest}"


def server_models(server: ServerSpec) -> list[CatalogModel]:
    """One server's chat models with their windows (cached briefly); ProviderError when it cannot be listed."""
    key = _cache_key(server)
    found = cache.get(key)
    if found is None:
        try:
            found = _windows(server)
        except ProviderError as error:
            # remembered a little while too: a server that times out would otherwise hold up every
            # listing (and the sync view's thread) for the whole time-out, again and again
            found = str(error)
            cache.set(key, found, min(FAILURE_CACHE_SECONDS, settings.MODEL_LIST_CACHE_SECONDS))
        else:
            cache.set(key, found, settings.MODEL_LIST_CACHE_SECONDS)
    if isinstance(found, str):
        raise ProviderError(found)
    return [CatalogModel(server.name, server.kind, name, window) for name, window in found]


def _windows(server: ServerSpec) -> list[tuple[str, int | None]]:
    client = make_client(base_url=server.base_url or None, api_key=server.api_key, timeout=settings.MODEL_LIST_TIMEOUT)
    entries = [entry for entry in list_models(client) if not NOT_CHAT.search(entry["id"])]
    windows = {entry["id"]: _entry_window(entry) for entry in entries}
    root = re.sub(r"/v1$", "", server.base_url)
    if server.kind == "ollama" and root:
        windows.update(_ollama_windows(client, root, [name for name, window in windows.items() if window is None]))
    if server.kind == "llamacpp" and root:
        serving = _llamacpp_window(client, root)  # the window of the loaded model, which it serves
        windows = {name: serving or window for name, window in windows.items()}
    return [(name, window or model_window(name)) for name, window in windows.items()]


def _positive(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _entry_window(entry: dict) -> int | None:
    """What an entry of /models says of the window: vLLM's max_model_len, llama.cpp's meta.n_ctx_train,
    and the names some proxies (LiteLLM, OpenRouter) use."""
    meta = entry.get("meta") if isinstance(entry.get("meta"), dict) else {}
    for value in (entry.get("max_model_len"), entry.get("context_length"), entry.get("context_window"),
                  meta.get("n_ctx"), meta.get("n_ctx_train")):
        if (window := _positive(value)) is not None:
            return window
    return None


def _ollama_windows(client, root: str, names: list[str]) -> dict[str, int | None]:
    if not names:
        return {}
    pool = ThreadPoolExecutor(max_workers=min(PARALLEL, len(names)), thread_name_prefix="model-catalog-show")
    try:
        futures = {name: pool.submit(_ollama_window, client, root, name) for name in names}
        wait(futures.values(), timeout=settings.MODEL_LIST_TIMEOUT + 0.5)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return {name: f.result() if f.done() and f.exception() is None else None for name, f in futures.items()}


def _ollama_window(client, root: str, name: str) -> int | None:
    try:
        shown = server_json(client, "post", f"{root}/api/show", {"model": name})
    except ProviderError:
        return None  # the model is still listed, its window unknown
    if not isinstance(shown, dict):
        return None
    # num_ctx: the window Ollama runs the model with, when set; past it Ollama cuts the prompt silently
    found = re.search(r"^num_ctx\s+(\d+)", shown.get("parameters") or "", re.M) \
        if isinstance(shown.get("parameters"), str) else None
    if found:
        return _positive(int(found[1]))
    info = shown.get("model_info") if isinstance(shown.get("model_info"), dict) else {}
    arch = info.get("general.architecture")
    if (window := _positive(info.get(f"{arch}.context_length"))) is not None:
        return window
    return next((_positive(v) for k, v in info.items() if k.endswith(".context_length") and _positive(v)), None)


def _llamacpp_window(client, root: str) -> int | None:
    try:
        props = server_json(client, "get", f"{root}/props")
    except ProviderError:
        return None
    if not isinstance(props, dict):
        return None
    settings_ = props.get("default_generation_settings")
    n_ctx = settings_.get("n_ctx") if isinstance(settings_, dict) else None
    return _positive(n_ctx) or _positive(props.get("n_ctx"))
