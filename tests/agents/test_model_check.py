"""The model check against scripted servers that behave like the models and servers it is meant to
catch: a good model, one that answers without tools, one with invalid arguments, one that forgets
heartbeats, a server that refuses tools, a server with a tokenize endpoint."""

import json

import pytest
from django.core.management import call_command

from agents.llm.check import FAIL, FIX_HEARTBEAT, FIX_JSON, PASS, SKIP, WARN, run_check
from agents.llm.json_tools import JsonToolsLLM
from agents.llm.openai_chat import OpenAIChat
from agents.llm.tokenize import TokenizeEndpoint
from tests.fake_llm import TOOLS_REFUSED, error, text, tool_call, tool_calls

FACT = "The check's code word is heliotrope."
SAVE = tool_call("archival_memory_insert", {"content": FACT, "request_heartbeat": True}, content="Worth keeping.")
REPLY = tool_call("send_message", {"message": "Saved it."}, content="Tell them.")


def check(server, model="gpt-4o-mini", **options):
    llm = OpenAIChat(base_url=server.base_url, api_key="t", timeout=5)
    return run_check(llm, model=model, tokenize=TokenizeEndpoint(base_url=server.base_url, model=model), **options)


def statuses(report) -> dict[str, str]:
    return {p.key: p.status for p in report.points}


def test_a_good_model_passes_every_point_in_a_throwaway_conversation(fake_llm):
    fake_llm.enqueue(SAVE, REPLY)
    report = check(fake_llm)

    assert statuses(report) == {"answers": PASS, "native_tools": PASS, "calls_tool": PASS, "valid_arguments": PASS,
                                "heartbeat": PASS, "send_message": PASS, "streams": PASS, "usage": PASS,
                                "tokenize": PASS}
    assert report.ok and all(p.seconds >= 0 for p in report.points)
    assert "Saved it." in report.point("send_message").detail
    first, second = fake_llm.chat_requests()
    assert [t["function"]["name"] for t in first["tools"]] == ["send_message", "archival_memory_insert"]
    assert second["messages"][-2]["role"] == "tool"  # the save's result, then the heartbeat
    assert json.loads(second["messages"][-1]["content"])["type"] == "heartbeat"


def test_a_model_that_answers_without_tools_fails_and_is_told_the_json_protocol(fake_llm):
    fake_llm.enqueue(text("Sure, I saved it!"))
    report = check(fake_llm)
    point = report.point("calls_tool")
    assert point.status == FAIL and "plain text" in point.detail and point.fix == FIX_JSON
    assert not report.ok
    assert report.point("valid_arguments").status == SKIP


@pytest.mark.parametrize("arguments, problem", [
    ('{"content": "x", "request_heartbeat": true,}', "not JSON"),
    ({"content": 5, "request_heartbeat": True}, "5 is not of type 'string'"),
    ({"request_heartbeat": True}, "'content' is a required property"),
])
def test_invalid_arguments_fail_with_what_is_wrong(fake_llm, arguments, problem):
    fake_llm.enqueue(tool_call("archival_memory_insert", arguments), REPLY)
    report = check(fake_llm)
    point = report.point("valid_arguments")
    assert point.status == FAIL and problem in point.detail and not report.ok


def test_a_forgotten_heartbeat_warns_and_recommends_the_fallback(fake_llm):
    fake_llm.enqueue(tool_call("archival_memory_insert", {"content": FACT}), REPLY)
    report = check(fake_llm)
    point = report.point("heartbeat")
    assert (point.status, point.fix) == (WARN, FIX_HEARTBEAT)
    assert report.ok  # a warning: the agent works, with the fallback better
    assert report.point("send_message").status == PASS  # the second step asked as the fallback would


def test_with_the_fallback_on_the_forgotten_heartbeat_is_covered(fake_llm):
    fake_llm.enqueue(tool_call("archival_memory_insert", {"content": FACT}), REPLY)
    point = check(fake_llm, heartbeat_fallback=True).point("heartbeat")
    assert point.status == PASS and "heartbeat_fallback" in point.detail


def test_saving_and_replying_in_one_answer_needs_no_heartbeat(fake_llm):
    fake_llm.enqueue(tool_calls([tool_call("archival_memory_insert", {"content": FACT}), REPLY]))
    report = check(fake_llm)
    assert statuses(report)["heartbeat"] == PASS and statuses(report)["send_message"] == PASS
    assert len(fake_llm.chat_requests()) == 1


def json_answer(tool: str, arguments: dict) -> str:
    return json.dumps({"thinking": "t", "tool": tool, "arguments": arguments})


def test_a_server_refusing_tools_is_named_and_the_json_protocol_shown_working(fake_llm):
    fake_llm.tools_refused = True
    fake_llm.enqueue(text("Hello."),  # the plain request that shows the server answers without tools
                     text(json_answer("archival_memory_insert", {"content": FACT, "request_heartbeat": True})),
                     text(json_answer("send_message", {"message": "Saved it."})))
    report = check(fake_llm)
    point = report.point("native_tools")
    assert point.status == FAIL and TOOLS_REFUSED in point.detail and point.fix == FIX_JSON
    assert report.protocol.startswith("json")
    assert {k: v for k, v in statuses(report).items() if k != "native_tools"} == dict.fromkeys(
        ["answers", "calls_tool", "valid_arguments", "heartbeat", "send_message", "streams", "usage", "tokenize"], PASS)
    assert report.ok


def test_an_agent_on_the_json_protocol_is_checked_through_it(fake_llm):
    fake_llm.tools_refused = True
    fake_llm.enqueue(text(json_answer("archival_memory_insert", {"content": FACT, "request_heartbeat": True})),
                     text(json_answer("send_message", {"message": "Saved it."})))
    report = check(fake_llm, protocol="json")
    assert report.point("native_tools").status == SKIP and report.ok
    assert fake_llm.refused == []


def test_a_server_that_answers_nothing_fails_the_first_point(fake_llm):
    fake_llm.enqueue(error(500, "boom"), error(500, "boom"))
    report = check(fake_llm)
    assert report.point("answers").status == FAIL and "boom" in report.point("answers").detail
    assert not report.ok


@pytest.mark.parametrize("kind", ["vllm", "llamacpp"])
def test_a_server_with_a_tokenize_endpoint_gives_exact_counts(fake_llm, kind):
    fake_llm.tokenizer = kind
    fake_llm.enqueue(SAVE, REPLY)
    point = check(fake_llm, model="my-llama").point("tokenize")
    assert point.status == PASS and kind in point.detail and "exact" in point.detail


def test_without_tokenize_or_usage_the_counts_are_approximate(fake_llm):
    fake_llm.usage_reported = False
    fake_llm.enqueue(SAVE, REPLY)
    report = check(fake_llm, model="my-llama")
    assert report.point("tokenize").status == WARN and "approximate" in report.point("tokenize").detail
    assert report.point("usage").status == WARN


def test_the_command_prints_a_table_and_exits_1_on_a_required_failure(llm, capsys):
    llm.enqueue(SAVE, REPLY)
    call_command("check_model", "--model", "gpt-4o-mini")
    out = capsys.readouterr().out
    assert "PASS  Answers at all" in out and "Every required point passed." in out

    llm.enqueue(text("no tools for me"))
    with pytest.raises(SystemExit) as exited:
        call_command("check_model")
    assert exited.value.code == 1
    out = capsys.readouterr().out
    assert "FAIL  Calls a tool" in out and "fix: tool_protocol" in out


def test_the_json_wrapper_sends_a_request_without_tools_as_it_is(fake_llm):
    # a summary's request: nothing to describe, nothing to read back
    fake_llm.tools_refused = True
    fake_llm.enqueue(text(json_answer("send_message", {"message": "hi"})))
    completion = JsonToolsLLM(OpenAIChat(base_url=fake_llm.base_url, api_key="t", timeout=5)).complete(
        {"model": "m", "messages": [{"role": "user", "content": "hi"}], "tools": [], "stream": True}, lambda d: None)
    assert completion.content == json_answer("send_message", {"message": "hi"}) and completion.tool_calls == []
    assert fake_llm.chat_requests()[0]["messages"] == [{"role": "user", "content": "hi"}]
