"""A scripted OpenAI-compatible HTTP server (in the manner of simonw/llm's MockModel).

It is a real HTTP server on loopback, so the real `openai` SDK, a Celery worker subprocess or a
daphne subprocess can all talk to it. It lives in the product, not only in the tests, because
`manage.py replay_scenario` replays a pinned turn's recorded model responses through it. Callers
script chat completions with `enqueue()` and read back what arrived in `requests`:

    server.enqueue(tool_call("send_message", {"message": "hi"}, content="Greet the user."))
    ... run the code under test against server.base_url ...
    assert server.chat_requests()[0]["messages"][-1]["content"] == "Hello"

Only chat completions are scripted; `/v1/models` and `/v1/embeddings` answer deterministically.
Like OpenAI, it refuses a request that breaks the chat protocol before any script is consulted
(`protocol_error`): a tool call without its tool result, a tool result without its call, a tool
name OpenAI would not take, a prompt over the model's context length. Refusals are counted in
`refused`, so a test sees a bug hidden behind an error the code under test handled.
Token counts are fakes: prompt_tokens = len(json.dumps(messages + tools)) // 4 and
completion_tokens = max(1, len(content + tool names + arguments) // 4), unless a response
carries its own `usage`.
"""

import base64
import dataclasses
import hashlib
import itertools
import json
import re
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import urlsplit


MODELS = ["gpt-4o-mini", "gpt-4.1", "fake-model", "text-embedding-3-small"]
CONTEXT_LENGTH = 128_000  # every chat model here; prompt tokens are estimated as len(json) / 4
TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
EMBEDDING_DIMENSIONS = 8
NO_SCRIPT = "fake LLM: no scripted response left"

_ids = itertools.count(1)


@dataclasses.dataclass(frozen=True)
class Call:
    name: str
    arguments: str  # sent as-is, so a test can script malformed JSON
    id: str


@dataclasses.dataclass(frozen=True)
class Response:
    content: str | None = None
    calls: tuple[Call, ...] = ()
    status: int = 200
    error: dict | None = None  # the OpenAI-shaped {"message", "type", "code", "param"}
    delay: float = 0.0
    pace: float = 0.0  # seconds between the chunks of a streamed answer, as a model writes token by token
    usage: dict | None = None
    headers: tuple[tuple[str, str], ...] = ()  # sent with an error, e.g. (("Retry-After", "1"),)
    cut_after: int | None = None  # stream this many chunks, then close the connection mid-answer
    raw: str | None = None  # a streamed body sent as it is, instead of the answer's chunks


def text(content: str, *, usage: dict | None = None) -> Response:
    """A plain assistant answer with no tool call."""
    return Response(content=content, usage=usage)


def tool_call(name: str, arguments: dict | str, *, content: str | None = None,
              call_id: str | None = None, usage: dict | None = None) -> Response:
    """One tool call; `content` is the inner thought streamed before it."""
    if not isinstance(arguments, str):
        arguments = json.dumps(arguments)
    call = Call(name=name, arguments=arguments, id=call_id or f"call_fake{next(_ids):04d}")
    return Response(content=content, calls=(call,), usage=usage)


def tool_calls(calls: list[Response], *, content: str | None = None, usage: dict | None = None) -> Response:
    """Parallel calls in one response, from `tool_call(...)` values (their own content is ignored)."""
    return Response(content=content, calls=tuple(c for r in calls for c in r.calls), usage=usage)


def error(status: int, message: str, *, code: str | None = None, type: str | None = None) -> Response:
    return Response(status=status, error={"message": message, "type": type, "code": code, "param": None})


def context_overflow() -> Response:
    """A 400 worded like OpenAI's context_length_exceeded error."""
    return error(400, "This model's maximum context length is 8192 tokens. However, your messages resulted "
                      "in 9000 tokens. Please reduce the length of the messages.",
                 code="context_length_exceeded", type="invalid_request_error")


def rate_limited(retry_after: str) -> Response:
    """A 429 with a Retry-After header, as OpenAI sends it."""
    return dataclasses.replace(error(429, "Rate limit reached for requests", code="rate_limit_exceeded",
                                     type="requests"), headers=(("Retry-After", retry_after),))


def cut(response: Response, after: int) -> Response:
    """The answer's stream, closed by the server after `after` chunks (say, in the middle of a tool call)."""
    return dataclasses.replace(response, cut_after=after)


def raw_stream(body: str) -> Response:
    """A streamed answer sent byte for byte as given (`data: ...` lines and all)."""
    return Response(raw=body)


def paced(seconds: float, response: Response) -> Response:
    """Stream `response` one small piece (a word, or 4 characters of arguments) every `seconds`."""
    return dataclasses.replace(response, pace=seconds)


def delay(seconds: float, response: Response) -> Response:
    """Answer `response` only after `seconds` (for time-out tests)."""
    return dataclasses.replace(response, delay=seconds)


def protocol_error(body: dict) -> str | None:
    """What OpenAI would answer 400 to in a chat request, in its words; None if it would take it."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty array."
    if "tools" in body and not body["tools"]:
        return "Invalid 'tools': empty array. Expected an array with minimum length 1, but got an empty array instead."
    if "tool_choice" in body and not body.get("tools"):
        return "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified."
    names = [(tool.get("function") or {}).get("name", "") for tool in body.get("tools") or []]
    if len(set(names)) < len(names):
        return "Invalid 'tools': tool names must be unique."
    for tool in body.get("tools") or []:
        name = (tool.get("function") or {}).get("name", "")
        if not TOOL_NAME.match(name):
            return f"Invalid 'tools[].function.name': string does not match pattern. Got {name[:80]!r}."
    waiting: list[str] = []  # calls of the last assistant message still without a result
    for index, message in enumerate(messages):
        role = message.get("role")
        if role not in ("system", "developer", "user", "assistant", "tool"):
            return f"Invalid value for 'messages[{index}].role': {role!r}."
        if role == "tool":
            if message.get("tool_call_id") not in waiting:
                return ("Invalid parameter: messages with role 'tool' must be a response to a preceeding message "
                        "with 'tool_calls'.")
            waiting.remove(message["tool_call_id"])
            continue
        if waiting:
            return ("An assistant message with 'tool_calls' must be followed by tool messages responding to each "
                    f"'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(waiting)}")
        if role == "assistant" and message.get("tool_calls"):
            for call in message["tool_calls"]:
                name = (call.get("function") or {}).get("name", "")
                if not TOOL_NAME.match(name):
                    return f"Invalid 'messages[{index}].tool_calls[].function.name': string does not match pattern."
            waiting = [call.get("id") for call in message["tool_calls"]]
        elif message.get("content") is None:
            return f"Invalid value for 'messages[{index}].content': expected a string, got null."
    if waiting:
        return ("An assistant message with 'tool_calls' must be followed by tool messages responding to each "
                f"'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(waiting)}")
    prompt = len(json.dumps(messages + (body.get("tools") or []))) // 4
    if prompt + (body.get("max_tokens") or 0) > CONTEXT_LENGTH:
        return (f"This model's maximum context length is {CONTEXT_LENGTH} tokens. However, your messages resulted "
                f"in {prompt} tokens. Please reduce the length of the messages.")
    return None


def _usage(request: dict, response: Response) -> dict:
    if response.usage is not None:
        return response.usage
    prompt = len(json.dumps(request.get("messages", []) + request.get("tools", []))) // 4
    produced = (response.content or "") + "".join(c.name + c.arguments for c in response.calls)
    completion = max(1, len(produced) // 4)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _pieces(s: str, n: int = 3) -> list[str]:
    size = max(1, -(-len(s) // n))
    return [s[i:i + size] for i in range(0, len(s), size)]


TOOLS_REFUSED = "tools param requires --jinja flag"  # llama.cpp's words


def tools_refusal(body: dict) -> str | None:
    """What a server without tool calling answers 400 to: anything of the tool-calling protocol."""
    messages = body.get("messages") or []
    if any(key in body for key in ("tools", "tool_choice", "parallel_tool_calls")) or any(
            m.get("role") == "tool" or m.get("tool_calls") for m in messages):
        return TOOLS_REFUSED
    return None


def fake_tokens(text: str) -> list[int]:
    """A server tokenizer unlike tiktoken, so that a test tells the counts apart: a token a word or a sign."""
    return [sum(map(ord, piece)) for piece in re.findall(r"\w+|[^\w\s]", text)]


def tokenize_answer(kind: str, body: dict) -> dict:
    """POST /tokenize as vLLM ({"model", "prompt"} -> {"count", "tokens", "max_model_len"}) or llama.cpp
    ({"content"} -> {"tokens"}) answers it."""
    if kind == "vllm":
        text = body.get("prompt") or "".join(str(m.get("content") or "") for m in body.get("messages") or [])
        tokens = fake_tokens(text)
        return {"count": len(tokens), "tokens": tokens, "max_model_len": CONTEXT_LENGTH}
    return {"tokens": fake_tokens(body.get("content") or "")}


def _embedding(text: str, dimensions: int) -> list[float]:
    digest = hashlib.shake_256(text.encode()).digest(2 * dimensions)
    values = [int.from_bytes(digest[i:i + 2], "big") / 32767.5 - 1 for i in range(0, len(digest), 2)]
    norm = sum(v * v for v in values) ** 0.5 or 1.0
    return [v / norm for v in values]


class FakeLLM:
    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.responder: Callable[[dict], Response | None] | None = None
        self.unexpected = 0
        self.refused: list[str] = []  # why requests were refused as OpenAI would refuse them
        # a server without tool calling (llama.cpp without --jinja): it refuses tools, tool_calls, role "tool"
        self.tools_refused = False
        self.tokenizer: str | None = None  # "vllm" or "llamacpp": POST /tokenize answers as that server's does
        self.usage_reported = True  # False: a server that ignores stream_options.include_usage
        # what GET /v1/models lists, and what servers other than OpenAI say of their models: extra
        # fields of a listed entry (vLLM's max_model_len), Ollama's POST /api/show answers by model,
        # llama.cpp's GET /props; models_delay makes the listing slow
        self.models: list[str] = list(MODELS)
        self.model_fields: dict[str, dict] = {}
        self.shown: dict[str, dict] = {}
        self.props: dict | None = None
        self.models_delay = 0.0
        self._queue: list[Response] = []
        self._requests: list[dict] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer((host, port), _handler_for(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/v1"

    def start(self) -> "FakeLLM":
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02},
                                        name="fake-llm", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()  # wakes delayed responses
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread:
            self._thread.join()

    def __enter__(self) -> "FakeLLM":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def enqueue(self, *responses: Response) -> None:
        with self._lock:
            self._queue.extend(responses)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self._requests.clear()
            self.responder = None
            self.unexpected = 0
            self.refused.clear()

    @property
    def requests(self) -> list[dict]:
        """Every request received, in arrival order: {"path", "headers", "json", "raw"} (the body's bytes)."""
        with self._lock:
            return list(self._requests)

    def chat_requests(self) -> list[dict]:
        return [r["json"] for r in self.requests if r["path"] == "/v1/chat/completions"]

    def last_request(self) -> dict | None:
        with self._lock:
            return self._requests[-1] if self._requests else None

    def _record(self, path: str, headers: dict, body: Any, raw: bytes) -> None:
        with self._lock:
            self._requests.append({"path": path, "headers": headers, "json": body, "raw": raw})

    def _next_response(self, request: dict) -> Response:
        responder = self.responder
        if responder is not None and (response := responder(request)) is not None:
            return response
        with self._lock:
            if self._queue:
                return self._queue.pop(0)
            self.unexpected += 1
        return error(500, NO_SCRIPT, type="server_error")


def _handler_for(server: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def do_GET(self):
            self._handle(None, b"")

        def do_POST(self):
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._handle(json.loads(raw) if raw else None, raw)

        def _handle(self, body: Any, raw: bytes) -> None:
            path = urlsplit(self.path).path
            server._record(path, {k.lower(): v for k, v in self.headers.items()}, body, raw)
            try:
                if (self.command, path) == ("GET", "/v1/models"):
                    if server.models_delay and server._stopping.wait(server.models_delay):
                        return
                    self._json(200, {"object": "list", "data": [
                        {"id": m, "object": "model", "created": 0, "owned_by": "fake", **server.model_fields.get(m, {})}
                        for m in server.models]})
                elif (self.command, path) == ("POST", "/api/show") and (body or {}).get("model") in server.shown:
                    self._json(200, server.shown[body["model"]])
                elif (self.command, path) == ("GET", "/props") and server.props is not None:
                    self._json(200, server.props)
                elif (self.command, path) == ("POST", "/tokenize"):  # a 404 where it has none, as OpenAI and Ollama
                    if server.tokenizer is None:
                        self._error(error(404, "Not Found"))
                    else:
                        self._json(200, tokenize_answer(server.tokenizer, body))
                elif (self.command, path) == ("POST", "/v1/embeddings"):
                    self._embeddings(body)
                elif (self.command, path) == ("POST", "/v1/chat/completions"):
                    self._chat(body)
                else:
                    with server._lock:
                        server.unexpected += 1
                    self._error(error(404, f"fake LLM: no route {self.command} {path}"))
            except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
                self.close_connection = True  # the client gave up (a time-out test), or a cut stream

        def _json(self, status: int, payload: dict, headers: tuple[tuple[str, str], ...] = ()) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, response: Response) -> None:
            self._json(response.status, {"error": response.error}, response.headers)

        def _embeddings(self, body: dict) -> None:
            inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
            dims = body.get("dimensions") or EMBEDDING_DIMENSIONS
            data = []
            for i, item in enumerate(inputs):
                vector: Any = _embedding(item if isinstance(item, str) else json.dumps(item), dims)
                if body.get("encoding_format") == "base64":
                    vector = base64.b64encode(struct.pack(f"<{dims}f", *vector)).decode()
                data.append({"object": "embedding", "index": i, "embedding": vector})
            tokens = sum(len(str(item)) // 4 + 1 for item in inputs)
            self._json(200, {"object": "list", "data": data, "model": body.get("model"),
                             "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

        def _chat(self, body: dict) -> None:
            if server.tools_refused and (problem := tools_refusal(body)) is not None:
                with server._lock:
                    server.refused.append(problem)
                return self._error(error(400, problem, type="invalid_request_error"))
            if (problem := protocol_error(body)) is not None:
                with server._lock:
                    server.refused.append(problem)
                return self._error(error(400, problem, type="invalid_request_error"))
            response = server._next_response(body)
            if response.delay and server._stopping.wait(response.delay):
                return
            if response.error is not None:
                return self._error(response)
            head = {"id": f"chatcmpl-fake{next(_ids)}", "created": int(time.time()),
                    "model": body.get("model"), "system_fingerprint": "fp_fake"}
            finish = "tool_calls" if response.calls else "stop"
            usage = _usage(body, response)
            if not body.get("stream"):
                message = {"role": "assistant", "content": response.content, "refusal": None}
                if response.calls:
                    message["tool_calls"] = [
                        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                        for c in response.calls]
                return self._json(200, {**head, "object": "chat.completion", "usage": usage, "choices": [
                    {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}]})
            self._stream(body, response, head, finish, usage)

        def _stream(self, body: dict, response: Response, head: dict, finish: str, usage: dict) -> None:
            include_usage = (body.get("stream_options") or {}).get("include_usage") and server.usage_reported
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream; charset=utf-8")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()

            if response.raw is not None:
                self.wfile.write(response.raw.encode())
                return
            sent = itertools.count(1)

            def send(payload: dict | str) -> None:
                if response.cut_after is not None and next(sent) > response.cut_after:
                    raise ConnectionAbortedError  # the server goes away mid-answer
                if response.pace:
                    time.sleep(response.pace)
                data = payload if isinstance(payload, str) else json.dumps(payload)
                self.wfile.write(f"data: {data}\n\n".encode())
                self.wfile.flush()

            def chunk(delta: dict, finish_reason: str | None = None) -> None:
                extra = {"usage": None} if include_usage else {}  # as OpenAI does
                send({**head, "object": "chat.completion.chunk", **extra, "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]})

            chunk({"role": "assistant", "content": "", "refusal": None})
            for piece in re.findall(r"\s*\S+\s*|\s+", response.content or ""):
                chunk({"content": piece})
            for index, call in enumerate(response.calls):
                chunk({"tool_calls": [{"index": index, "id": call.id, "type": "function",
                                       "function": {"name": call.name, "arguments": ""}}]})
                for piece in re.findall(r".{1,4}", call.arguments, re.S) if response.pace else _pieces(call.arguments):
                    chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            chunk({}, finish)
            if include_usage:
                send({**head, "object": "chat.completion.chunk", "choices": [], "usage": usage})
            send("[DONE]")

    return Handler

