"""The fake LLM server speaks OpenAI closely enough for the real `openai` SDK."""

import json

import openai
import pytest

from tests.fake_llm import NO_SCRIPT, FakeLLM, context_overflow, delay, error, text, tool_call, tool_calls

MESSAGES = [{"role": "user", "content": "Hello"}]
TOOLS = [{"type": "function", "function": {"name": "send_message", "parameters": {"type": "object"}}}]


@pytest.fixture
def openai_client(fake_llm):
    return openai.OpenAI(base_url=fake_llm.base_url, api_key="test", max_retries=0)


def chat(openai_client, **kwargs):
    return openai_client.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES, tools=TOOLS, **kwargs)


def test_non_streamed_tool_call(fake_llm, openai_client):
    fake_llm.enqueue(tool_call("send_message", {"message": "Hi!"}, content="Greet them.", call_id="call_1"))
    completion = chat(openai_client)
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.content == "Greet them."
    call = choice.message.tool_calls[0]
    assert (call.id, call.function.name) == ("call_1", "send_message")
    assert json.loads(call.function.arguments) == {"message": "Hi!"}
    expected_prompt = len(json.dumps(MESSAGES + TOOLS)) // 4
    assert completion.usage.prompt_tokens == expected_prompt


def reassemble(stream):
    content, calls, finish, usage, chunks = "", {}, None, None, 0
    for chunk in stream:
        chunks += 1
        assert chunk.object == "chat.completion.chunk"
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            content += choice.delta.content or ""
            for delta in choice.delta.tool_calls or []:
                call = calls.setdefault(delta.index, {"id": None, "name": "", "arguments": ""})
                call["id"] = delta.id or call["id"]
                call["name"] += delta.function.name or ""
                call["arguments"] += delta.function.arguments or ""
            finish = choice.finish_reason or finish
    return content, [calls[i] for i in sorted(calls)], finish, usage, chunks


def test_streamed_thoughts_and_tool_call_reassemble(fake_llm, openai_client):
    arguments = {"message": "Nice to meet you, Chad.", "request_heartbeat": False}
    fake_llm.enqueue(tool_call("send_message", arguments, content="User said hello. Be warm."))
    content, calls, finish, usage, chunks = reassemble(chat(openai_client, stream=True))
    assert content == "User said hello. Be warm."
    assert [(c["name"], json.loads(c["arguments"])) for c in calls] == [("send_message", arguments)]
    assert calls[0]["arguments"] == json.dumps(arguments)
    assert calls[0]["id"].startswith("call_")
    assert finish == "tool_calls"
    assert usage is None
    assert chunks > 8  # content and arguments really came in pieces


def test_streamed_parallel_calls_and_usage(fake_llm, openai_client):
    fake_llm.enqueue(tool_calls([tool_call("a", {"x": 1}), tool_call("b", {"y": 2})],
                                usage={"prompt_tokens": 7, "completion_tokens": 3, "total_tokens": 10}))
    _, calls, finish, usage, _ = reassemble(chat(openai_client, stream=True, stream_options={"include_usage": True}))
    assert [(c["name"], c["arguments"]) for c in calls] == [("a", '{"x": 1}'), ("b", '{"y": 2}')]
    assert finish == "tool_calls"
    assert (usage.prompt_tokens, usage.completion_tokens, usage.total_tokens) == (7, 3, 10)


def test_streamed_text_has_computed_usage(fake_llm, openai_client):
    fake_llm.enqueue(text("Just words."))
    content, calls, finish, usage, _ = reassemble(chat(openai_client, stream=True, stream_options={"include_usage": True}))
    assert (content, calls, finish) == ("Just words.", [], "stop")
    assert usage.prompt_tokens == len(json.dumps(MESSAGES + TOOLS)) // 4
    assert usage.completion_tokens == 2


def test_malformed_arguments_arrive_byte_for_byte(fake_llm, openai_client):
    broken = '{"message": "unterminated, \\u00e9 \n'
    fake_llm.enqueue(tool_call("send_message", broken), tool_call("send_message", broken))
    assert chat(openai_client).choices[0].message.tool_calls[0].function.arguments == broken
    assert reassemble(chat(openai_client, stream=True))[1][0]["arguments"] == broken


@pytest.mark.parametrize("response, exception", [
    (error(500, "boom", type="server_error"), openai.InternalServerError),
    (error(429, "slow down", code="rate_limit_exceeded", type="requests"), openai.RateLimitError),
])
def test_http_errors_raise_sdk_exceptions(fake_llm, openai_client, response, exception):
    fake_llm.enqueue(response)
    with pytest.raises(exception) as caught:
        chat(openai_client, stream=True)
    assert caught.value.message.endswith(response.error["message"])


def test_context_overflow(fake_llm, openai_client):
    fake_llm.enqueue(context_overflow())
    with pytest.raises(openai.BadRequestError) as caught:
        chat(openai_client)
    assert caught.value.code == "context_length_exceeded"
    assert caught.value.type == "invalid_request_error"
    assert "maximum context length is 8192 tokens" in caught.value.message


def test_delayed_response_times_out(fake_llm, openai_client):
    fake_llm.enqueue(delay(2, text("too late")), text("on time"))
    with pytest.raises(openai.APITimeoutError):
        chat(openai_client.with_options(timeout=0.3))
    assert chat(openai_client).choices[0].message.content == "on time"


def test_requests_are_recorded(fake_llm, openai_client):
    fake_llm.enqueue(text("one"), text("two"))
    chat(openai_client)
    chat(openai_client, temperature=0.5)
    openai_client.models.list()
    bodies = fake_llm.chat_requests()
    assert [b["messages"] for b in bodies] == [MESSAGES, MESSAGES]
    assert bodies[1]["temperature"] == 0.5 and bodies[0]["tools"] == TOOLS
    assert fake_llm.requests[0]["headers"]["authorization"] == "Bearer test"
    assert fake_llm.last_request()["path"] == "/v1/models"
    fake_llm.reset()
    assert fake_llm.requests == [] and fake_llm.responder is None


def test_empty_queue_is_a_loud_500(fake_llm, openai_client):
    with pytest.raises(openai.InternalServerError, match=NO_SCRIPT):
        chat(openai_client)
    assert fake_llm.unexpected == 1


def test_responder_goes_before_the_queue(fake_llm, openai_client):
    fake_llm.responder = lambda body: text("summary") if "SUMMARISE" in json.dumps(body["messages"]) else None
    fake_llm.enqueue(text("from the queue"))
    summary = openai_client.chat.completions.create(model="m", messages=[{"role": "user", "content": "SUMMARISE this"}])
    assert summary.choices[0].message.content == "summary"
    assert chat(openai_client).choices[0].message.content == "from the queue"
    assert fake_llm.unexpected == 0


def test_models_and_embeddings(fake_llm, openai_client):
    assert "gpt-4o-mini" in [m.id for m in openai_client.models.list()]
    result = openai_client.embeddings.create(model="text-embedding-3-small", input=["a", "b", "a"])
    vectors = [d.embedding for d in result.data]
    assert [len(v) for v in vectors] == [8, 8, 8]
    assert vectors[0] == pytest.approx(vectors[2]) and vectors[0] != pytest.approx(vectors[1])
    assert sum(x * x for x in vectors[0]) == pytest.approx(1, abs=1e-5)
    plain = openai_client.embeddings.create(model="m", input="a", encoding_format="float").data[0].embedding
    assert plain == pytest.approx(vectors[0], abs=1e-6)
    assert result.usage.total_tokens > 0


def test_usable_from_a_plain_http_client():
    # Other processes (Celery worker, daphne) reach it over real HTTP.
    import urllib.request

    with FakeLLM() as server:
        with urllib.request.urlopen(server.base_url + "/models") as answer:
            assert json.load(answer)["object"] == "list"


CALL = {"id": "call_1", "type": "function", "function": {"name": "send_message", "arguments": "{}"}}


@pytest.mark.parametrize("messages, refusal", [
    ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": None, "tool_calls": [CALL]},
      {"role": "user", "content": "again"}], "did not have response messages: call_1"),
    ([{"role": "user", "content": "hi"}, {"role": "assistant", "content": None, "tool_calls": [CALL]}],
     "did not have response messages: call_1"),
    ([{"role": "user", "content": "hi"}, {"role": "tool", "tool_call_id": "call_9", "content": "{}"}],
     "must be a response to a preceeding message with 'tool_calls'"),
    ([{"role": "assistant", "content": None, "tool_calls": [{**CALL, "function": {"name": "x" * 65, "arguments": ""}}]},
      {"role": "tool", "tool_call_id": "call_1", "content": "{}"}], "does not match pattern"),
    ([{"role": "user", "content": "word " * 200_000}], "maximum context length is 128000 tokens"),
    ([{"role": "user", "content": None}], "expected a string, got null"),
])
def test_requests_openai_refuses_are_refused_before_any_script(fake_llm, openai_client, messages, refusal):
    fake_llm.enqueue(text("never sent"))
    with pytest.raises(openai.BadRequestError, match=refusal):
        openai_client.chat.completions.create(model="gpt-4o-mini", messages=messages)
    assert fake_llm.refused and refusal in fake_llm.refused[0]
    # the script is still there for a request OpenAI would take
    ok = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": None, "tool_calls": [CALL]},
          {"role": "tool", "tool_call_id": "call_1", "content": "{}"}]
    assert openai_client.chat.completions.create(model="gpt-4o-mini", messages=ok).choices[0].message.content == "never sent"
