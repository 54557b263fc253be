"""Embedders: the bundled local model, and an OpenAI-compatible server through the real SDK."""

import json
import math
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from memory import embeddings
from memory.embeddings import LocalEmbedder, OpenAIEmbedder, get_embedder
from memory.openai_api import ProviderError, make_client, stream_chat


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b)) / (math.hypot(*a) * math.hypot(*b))


# --- the local model ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def local() -> LocalEmbedder:
    return get_embedder("local/all-MiniLM-L6-v2")


def test_local_model_gives_384_dimension_unit_vectors(local):
    assert (local.model, local.dimensions, local.max_tokens) == ("local/all-MiniLM-L6-v2", 384, 256)
    vectors = local.embed(["The cat sat on the mat", "Quarterly revenue grew by 5%"])
    assert len(vectors) == 2
    for vector in vectors:
        assert len(vector) == 384
        assert all(isinstance(x, float) for x in vector)
        assert math.isclose(math.hypot(*vector), 1.0, abs_tol=1e-5)
    assert local._model.max_seq_length == local.max_tokens
    assert local._model.get_embedding_dimension() == local.dimensions


def test_paraphrases_are_closer_than_unrelated_text(local):
    cat, kitten, revenue = local.embed(["The cat sat on the mat", "A kitten was sitting on the rug",
                                        "Quarterly revenue grew by 5%"])
    assert cosine(cat, kitten) > cosine(cat, revenue) + 0.3
    assert cosine(kitten, revenue) < 0.2


def test_batching_preserves_order(local):
    texts = [f"note {i}: {'a fairly long sentence about ' * (i % 5)}topic {i * 7}" for i in range(150)]
    together = local.embed(texts)  # three batches of 64, of uneven lengths
    assert len(together) == len(texts)
    for i in (0, 1, 63, 64, 65, 127, 128, 149):
        alone = local.embed([texts[i]])[0]
        assert max(abs(x - y) for x, y in zip(together[i], alone)) < 1e-5


def test_empty_list_embeds_to_empty_list(local):
    assert local.embed([]) == []


def test_count_tokens_counts_word_pieces_like_the_models_tokenizer(local):
    local.embed(["load the model"])
    model_tokenizer = local._model.tokenizer
    for text in ["hello world", "Unbelievably, tokenizers split words: naïve café 日本語 🤖", "", "word " * 1000]:
        expected = len(model_tokenizer(text, add_special_tokens=False)["input_ids"])
        assert local.count_tokens(text) == expected
    assert local.count_tokens("hello world") == 2
    assert local.count_tokens("word " * 1000) == 1000  # not truncated at the model's 256 or the file's 128


def test_one_text_is_embedded_on_one_core_and_a_batch_on_all(local, monkeypatch):
    import torch

    cores = torch.get_num_threads()
    model = local._load()
    seen = []
    encode = model.encode
    monkeypatch.setattr(model, "encode", lambda texts, **options: seen.append(torch.get_num_threads()) or encode(texts, **options))
    local.embed(["a query"])
    local.embed(["one", "two"])
    assert seen == [1, cores] and torch.get_num_threads() == cores  # given back after the one text

    monkeypatch.setattr(model, "encode", lambda texts, **options: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        local.embed(["a query"])
    assert torch.get_num_threads() == cores


def test_local_model_is_loaded_once_per_process(local):
    assert get_embedder("local/all-MiniLM-L6-v2") is local
    loaded = local._model
    local.embed(["again"])
    assert local._model is loaded


def test_concurrent_embedding_from_threads(local):
    texts = [f"thread text {i}" for i in range(20)]
    expected = local.embed(texts)
    results: dict[int, list[list[float]]] = {}
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            results[n] = local.embed(texts)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    for vectors in results.values():
        assert max(abs(x - y) for a, b in zip(vectors, expected) for x, y in zip(a, b)) < 1e-5


@pytest.mark.parametrize("model, message", [
    ("local/no-such-model", "local/all-MiniLM-L6-v2"),
    ("cohere/embed-english-v3", "local, openai"),
    ("all-MiniLM-L6-v2", "local, openai"),
    ("local/", "local, openai"),
])
def test_unknown_models_raise_a_clear_value_error(model, message):
    with pytest.raises(ValueError, match=message):
        get_embedder(model)


def test_registry_is_keyed_by_prefix():
    assert embeddings.EMBEDDERS == {"local": LocalEmbedder, "openai": OpenAIEmbedder}
    embedder = get_embedder("openai/text-embedding-3-small")
    assert isinstance(embedder, OpenAIEmbedder)
    assert (embedder.model, embedder.name, embedder.dimensions, embedder.max_tokens) == (
        "openai/text-embedding-3-small", "text-embedding-3-small", 1536, 8191)
    assert embedder.count_tokens("hello world") == 2  # cl100k_base, exact


# --- an OpenAI-compatible server ------------------------------------------------------------

def fake_vector(text: str) -> list[float]:
    return [float(len(text)), float(sum(map(ord, text)) % 101), 1.0]


class ScriptedServer:
    """A loopback OpenAI-compatible /v1/embeddings endpoint. Answers with deterministic vectors
    (in reverse order, to prove we sort by index) unless a reply was enqueued."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.replies: deque[tuple[int, dict, float]] = deque()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                if server.replies:
                    status, payload, delay = server.replies.popleft()
                    time.sleep(delay)
                else:
                    status = 200
                    data = [{"object": "embedding", "index": i, "embedding": fake_vector(text)}
                            for i, text in enumerate(body["input"])]
                    payload = {"object": "list", "data": data[::-1], "model": body["model"],
                               "usage": {"prompt_tokens": 1, "total_tokens": 1}}
                raw = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def enqueue(self, status: int, payload: dict, delay: float = 0.0) -> None:
        self.replies.append((status, payload, delay))

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    server = ScriptedServer()
    yield server
    server.close()


def embedder_for(server: ScriptedServer, name: str = "nomic-embed-text", **kwargs: object) -> OpenAIEmbedder:
    return OpenAIEmbedder(name, base_url=server.base_url, api_key="", timeout=kwargs.pop("timeout", 5.0), **kwargs)


def test_openai_embedder_batches_in_order(server):
    embedder = embedder_for(server)
    texts = [f"text number {i}" + "!" * (i % 13) for i in range(300)]
    assert embedder.embed(texts) == [fake_vector(text) for text in texts]
    assert [len(request["body"]["input"]) for request in server.requests] == [256, 44]
    first = server.requests[0]
    assert first["path"] == "/v1/embeddings"
    assert first["body"]["model"] == "nomic-embed-text"  # without the openai/ prefix
    assert first["body"]["encoding_format"] == "float"
    assert first["auth"] == "Bearer not-needed"


def test_openai_embedder_learns_dimensions_from_the_first_response(server):
    embedder = embedder_for(server)
    assert embedder.model == "openai/nomic-embed-text"
    assert embedder.max_tokens == embeddings.DEFAULT_MAX_TOKENS
    assert embedder.embed(["a"]) == [fake_vector("a")]
    assert embedder.dimensions == 3
    assert len(server.requests) == 1


def test_openai_embedder_asks_for_dimensions_when_nothing_was_embedded(server):
    embedder = embedder_for(server)
    assert embedder.dimensions == 3
    assert len(server.requests) == 1


def test_openai_embedder_empty_list_sends_nothing(server):
    assert embedder_for(server).embed([]) == []
    assert server.requests == []


def test_server_error_is_retryable(server):
    server.enqueue(500, {"error": {"message": "model crashed", "type": "server_error"}})
    with pytest.raises(ProviderError) as caught:
        embedder_for(server).embed(["a"])
    error = caught.value
    assert (error.status, error.retryable, error.context_overflow) == (500, True, False)
    assert error.message == "LLM server returned 500: model crashed"
    assert str(error) == error.message
    assert len(server.requests) == 1  # the SDK did not retry behind our back


def test_rate_limit_is_retryable(server):
    server.enqueue(429, {"error": {"message": "Rate limit reached", "type": "requests", "code": "rate_limit_exceeded"}})
    with pytest.raises(ProviderError) as caught:
        embedder_for(server).embed(["a"])
    assert (caught.value.status, caught.value.retryable) == (429, True)


@pytest.mark.parametrize("payload", [
    {"error": {"message": "This model's maximum context length is 8192 tokens, however you requested 9000 tokens.",
               "type": "invalid_request_error", "param": "input", "code": "context_length_exceeded"}},
    {"error": {"message": "Input is invalid", "type": "invalid_request_error", "code": "context_length_exceeded"}},
    {"error": {"code": 400, "message": "the request exceeds the available context size, try increasing it",
               "type": "exceed_context_size_error"}},
    {"object": "error", "message": "This model's maximum context length is 512 tokens.", "code": 400},
])
def test_context_length_errors_are_context_overflow(server, payload):
    server.enqueue(400, payload)
    with pytest.raises(ProviderError) as caught:
        embedder_for(server).embed(["a very long text"])
    error = caught.value
    assert (error.status, error.retryable, error.context_overflow) == (400, False, True)
    assert error.message.startswith("LLM server returned 400: ")


def test_other_client_errors_are_final(server):
    server.enqueue(401, {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}})
    with pytest.raises(ProviderError) as caught:
        embedder_for(server).embed(["a"])
    error = caught.value
    assert (error.status, error.retryable, error.context_overflow) == (401, False, False)
    assert error.message == "LLM server returned 401: Incorrect API key provided"


def test_timeout_is_retryable_and_says_how_long(server):
    server.enqueue(200, {}, delay=1.5)
    with pytest.raises(ProviderError) as caught:
        embedder_for(server, timeout=0.3).embed(["a"])
    error = caught.value
    assert (error.status, error.retryable) == (None, True)
    assert error.message == "LLM server timed out after 0.3 s"


def test_connection_refused_is_retryable_and_names_the_server():
    probe = ScriptedServer()
    base_url = probe.base_url
    probe.close()  # nothing listens on that port now
    with pytest.raises(ProviderError) as caught:
        OpenAIEmbedder("text-embedding-3-small", base_url=base_url, api_key="k", timeout=2.0).embed(["a"])
    error = caught.value
    assert error.retryable is True
    assert error.message.startswith(f"could not connect to LLM server at {base_url.removesuffix('/v1')}")


def test_stream_chat_raises_provider_error_before_the_first_chunk(server):
    server.enqueue(400, {"error": {"message": "prompt is too long: 210000 tokens > 200000 maximum"}})
    client = make_client(base_url=server.base_url, api_key=None, timeout=5.0)
    with pytest.raises(ProviderError) as caught:
        stream_chat(client, model="m", messages=[{"role": "user", "content": "hi"}])
    assert caught.value.context_overflow is True
    assert server.requests[0]["path"] == "/v1/chat/completions"
    assert server.requests[0]["body"]["stream"] is True


def test_stream_chat_yields_the_chunks_of_a_streamed_answer():
    from tests.fake_llm import FakeLLM, tool_call

    with FakeLLM() as llm:
        llm.enqueue(tool_call("send_message", {"message": "hi there"}, content="Greet the user."))
        client = make_client(base_url=llm.base_url, api_key=None, timeout=5.0)
        chunks = list(stream_chat(client, model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]))
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks if chunk["choices"]]
    content = "".join(delta.get("content") or "" for delta in deltas)
    arguments = "".join(call["function"].get("arguments") or "" for delta in deltas for call in delta.get("tool_calls") or ())
    assert content == "Greet the user."
    assert json.loads(arguments) == {"message": "hi there"}
    assert [c for c in chunks if c["choices"]][-1]["choices"][0]["finish_reason"] == "tool_calls"


def test_a_worker_preloads_a_local_model_and_leaves_a_remote_one_alone(settings, server):
    from memory.embeddings import get_embedder, preload_local_model

    settings.EMBEDDING_MODEL, settings.EMBEDDING_BASE_URL = "openai/preload-test", server.base_url
    preload_local_model()
    assert server.requests == []  # nothing is sent to a remote server at start
    settings.EMBEDDING_MODEL = "local/all-MiniLM-L6-v2"
    preload_local_model()
    assert get_embedder()._model is not None
