"""An answer's pieces as they stream: what send_message says is read out of its growing JSON."""

import json

import pytest

from agents.engine.streaming import AnswerStream, SpokenText
from agents.engine.types import Delta


def spoken(pieces: list[str]) -> list[str]:
    text = SpokenText()
    return [said for piece in pieces if (said := text.feed(piece))]


def test_the_message_is_told_as_its_json_grows():
    assert spoken(['{"mess', 'age": "Hel', 'lo, ', 'Sam!"', ', "request_heartbeat": false}']) == ["Hel", "lo, ", "Sam!"]


@pytest.mark.parametrize("message", [
    'quote " backslash \\ newline \n tab \t', "emoji 😀 and accents é", "unicode escapes \u00e9\u4e2d", "",
    '"message": "not the key"', "\\u0041 is not an escape here",
])
def test_every_split_of_the_json_gives_the_message_exactly(message):
    arguments = json.dumps({"thinking": 'a "message": "decoy"', "message": message, "request_heartbeat": True})
    for size in (1, 2, 3, 7):
        pieces = [arguments[i:i + size] for i in range(0, len(arguments), size)]
        assert "".join(spoken(pieces)) == message, size
    ascii_only = json.dumps({"message": message})  # \uXXXX escapes, surrogate pairs for the emoji
    assert "".join(spoken([ascii_only[i:i + 1] for i in range(len(ascii_only))])) == message


def test_arguments_that_are_not_json_say_nothing_wrong():
    assert spoken(['{"message": "ok \\x"}']) == []  # an escape JSON has not: no text at all rather than a wrong one
    assert spoken(['{"other": 1}']) == []
    assert spoken(['not json']) == []


def test_the_stream_publishes_each_kind_of_piece_and_says_what_it_told():
    published = []
    ticks = iter(range(0, 1000, 1))  # a second between pieces: each goes out as it comes
    stream = AnswerStream(published.append, run_id=4, step=1, message_id=90, clock=lambda: next(ticks))
    stream.take(Delta(content="Thinking"))
    stream.take(Delta(call=0, call_id="call_a", name="send_message", arguments='{"message": "Hi'))
    stream.take(Delta(call=0, call_id="call_a", arguments=' there"}'))
    stream.take(Delta(call=1, call_id="call_b", name="archival_memory_insert", arguments='{"content": "x"}'))
    kinds = [(e["type"], e.get("delta")) for e in published]
    assert kinds == [("reasoning_delta", "Thinking"), ("tool_call_delta", '{"message": "Hi'), ("assistant_delta", "Hi"),
                     ("tool_call_delta", ' there"}'), ("assistant_delta", " there"),
                     ("tool_call_delta", '{"content": "x"}')]
    assert {e["message_id"] for e in published} == {90} and {e["run_id"] for e in published} == {4}
    assert [e["name"] for e in published if e["type"] == "tool_call_delta"] == ["send_message", "", "archival_memory_insert"]
    covers = stream.covers
    assert covers(_event("reasoning"))
    assert covers(_event("assistant_message", tool_call_id="call_a"))
    assert covers(_event("tool_call", tool_call_id="call_b"))
    assert not covers(_event("tool_call", tool_call_id="call_z"))
    assert not covers(_event("assistant_message", tool_call_id=""))  # a plain-text answer: told as content, not as this
    assert not AnswerStream(published.append, run_id=4, step=2, message_id=91).covers(_event("reasoning"))


def test_pieces_that_come_close_together_go_out_as_one():
    published = []
    now = [0.0]
    stream = AnswerStream(published.append, run_id=4, step=1, message_id=90, clock=lambda: now[0])
    for piece in ("I ", "think ", "so."):
        stream.take(Delta(content=piece))
    stream.take(Delta(call=0, call_id="call_a", name="send_message", arguments='{"message": "Hi'))
    stream.take(Delta(call=0, call_id="call_a", arguments=' there'))
    assert [(e["type"], e["delta"]) for e in published] == [("reasoning_delta", "I think so.")]  # the part changed
    now[0] = 0.05  # past GATHER_SECONDS: what was gathered goes out
    stream.take(Delta(call=0, call_id="call_a", arguments='!"}'))
    stream.take(Delta(call=1, call_id="call_b", name="archival_memory_insert", arguments='{"content": "x"}'))
    stream.flush()  # the answer is complete
    assert [(e["type"], e.get("name"), e["delta"]) for e in published[1:]] == [
        ("tool_call_delta", "send_message", '{"message": "Hi there!"}'), ("assistant_delta", None, "Hi there!"),
        ("tool_call_delta", "archival_memory_insert", '{"content": "x"}')]
    stream.flush()
    assert len(published) == 4  # nothing twice


def _event(kind, **fields):
    from agents.engine.events import Event

    return Event(type=kind, run_id=4, **fields)
