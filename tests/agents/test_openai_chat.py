"""OpenAIChat puts a streamed answer back together from the raw chunks any OpenAI-compatible server
sends, odd shapes included, and turns chunks it cannot read into a clear ProviderError."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from agents.llm.openai_chat import OpenAIChat
from memory.errors import ProviderError


class RawSSEServer:
    """Answers every chat completion with the given `data:` payloads, as they are."""

    def __init__(self, payloads: list[str]) -> None:
        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers["Content-Length"]))
                body = "".join(f"data: {payload}\n\n" for payload in [*payloads, "[DONE]"]).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def complete(self, on_delta=lambda delta: None):
        chat = OpenAIChat(base_url=self.base_url, api_key="x", timeout=5)
        try:
            return chat.complete({"model": "m", "messages": [{"role": "user", "content": "hi"}]}, on_delta)
        finally:
            self.httpd.shutdown()
            self.httpd.server_close()


def chunk(**fields) -> str:
    return json.dumps({"id": "c1", "model": "m", "object": "chat.completion.chunk", **fields})


def test_odd_but_readable_chunks_are_put_back_together():
    pieces = []
    completion = RawSSEServer([
        chunk(choices=None),
        chunk(choices=[{"index": 0, "delta": None}]),
        chunk(choices=[{"index": 0, "delta": {"content": "Think"}}]),
        chunk(choices=[{"index": 0, "delta": {"content": "ing.", "tool_calls": [
            {"function": {"name": "send_", "arguments": '{"mess'}}]}}]),  # no index, no id
        chunk(choices=[{"index": 0, "delta": {"tool_calls": [{"index": 0, "function": {"name": "message", "arguments": 'age": "hi"}'}}]},
                        "finish_reason": "tool_calls"}]),
        chunk(choices=[], usage={"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10,
                                 "prompt_tokens_details": {"cached_tokens": None}}),
    ]).complete(pieces.append)

    assert [d.content for d in pieces if d.content] == ["Think", "ing."]
    assert completion.content == "Thinking."
    [call] = completion.tool_calls
    assert (call.name, json.loads(call.arguments)) == ("send_message", {"message": "hi"})
    assert call.id.startswith("call_")  # the server sent none; the result must still name one
    # the call's pieces were streamed under the id it was stored with
    calls = [d for d in pieces if d.call is not None]
    assert [(d.call, d.call_id, d.name, d.arguments) for d in calls] == [
        (0, call.id, "send_", '{"mess'), (0, call.id, "message", 'age": "hi"}')]
    assert completion.finish_reason == "tool_calls"
    assert completion.usage == {"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10, "prompt_tokens_details": {}}
    assert completion.response["id"] == "c1"


@pytest.mark.parametrize("payload", ['["a", "list"]', '"a string"', "42"])
def test_a_chunk_that_is_not_an_object_is_a_clear_provider_error(payload):
    with pytest.raises(ProviderError, match="not a JSON object"):
        RawSSEServer([chunk(choices=[{"index": 0, "delta": {"content": "ok"}}]), payload]).complete()


def test_odd_names_ids_and_characters_from_a_model_are_made_safe_to_store_and_send_back():
    long_id, call = "c" * 300, {"index": 0, "function": {"name": "fly to\x00 the moon!", "arguments": '{"a": "\\u0000"}'}}
    server = RawSSEServer([
        json.dumps({"choices": [{"index": 0, "delta": {"content": "nul\u0000 and \ud800 lone"}}]}),
        json.dumps({"choices": [{"index": 0, "delta": {"tool_calls": [{**call, "id": long_id}]}}]}),
        json.dumps({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 1, "id": "same", "function": {
            "name": "send_message", "arguments": "{}"}}]}}]}),
        json.dumps({"choices": [{"index": 0, "delta": {"tool_calls": [{"index": 2, "id": "same", "function": {
            "name": "x" * 100, "arguments": "{}"}}]}, "finish_reason": "tool_calls"}]}),
    ])
    completion = server.complete()
    assert completion.content == "nul\ufffd and \ufffd lone"
    first, second, third = completion.tool_calls
    assert first.name == "invalid_fly_to__the_moon_" and first.id != long_id and len(first.id) <= 64
    assert first.arguments == '{"a": "\\u0000"}'  # the escape stays text; the tool that reads it may refuse it
    assert second.id == "same" and third.id != "same"  # ids are unique within an answer
    assert third.name.startswith("invalid_x") and len(third.name) <= 64
