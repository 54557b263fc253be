"""The websocket's fragments are rendered from the events alone: no query in the web process."""

import pytest

from agents.engine import events
from agents.engine.events import Event
from agents.engine.types import BlockView, MessageView
from playground.consumers import AgentConsumer
from tests.factories import make_agent


@pytest.fixture
def consumer(db):
    consumer = AgentConsumer()
    consumer.agent, consumer.streaming = make_agent(), set()
    return consumer


def test_a_memory_change_renders_the_blocks_form_from_the_event(consumer, django_assert_num_queries):
    block = BlockView("human", "Name: <b>Ada</b>", 100, "about the human", False, id=42)
    with django_assert_num_queries(0):
        html = consumer.fragment(events.memory_change(block=block, actor="agent", run_id=3, step_id=9))
    assert '<form id="block-42"' in html and 'hx-swap-oob="true"' in html
    assert "Name: &lt;b&gt;Ada&lt;/b&gt;</textarea>" in html and "edited by the agent" in html


def test_a_steps_usage_fills_the_inspectors_last_step_column_from_the_event(consumer, django_assert_num_queries):
    tokens = {"system_instructions": 900, "tool_schemas": 700, "core_memory": 120, "memory_metadata": 60, "summary": 0,
              "messages": 40, "prompt_total": 1820, "completion_reserve": 1024}
    usage = events.usage(run_id=3, step_id=9, step=0, purpose="agent", tokens=tokens, usage={"prompt_tokens": 1830},
                         latency_ms=12.34)
    with django_assert_num_queries(0):
        html = consumer.fragment(usage)
    assert 'id="last-messages" hx-swap-oob="true">40<' in html
    assert 'id="last-prompt_total" hx-swap-oob="true">1820<' in html
    assert '<b class="reported">1830</b>' in html and "a gap of 10" in html
    assert "step · 1820 tokens (provider: 1830) · 12.3 ms" in html


def test_streamed_content_becomes_the_thought_or_goes(consumer):
    said = MessageView(5, "assistant", "assistant", "Hello!", "Hello!", run_id=3, step_id=9)
    start = consumer.fragment(events.reasoning_delta(run_id=3, step=0, delta="Hel"))
    assert 'id="thought-stream-3"' in start and "thinking…" in start
    assert "beforeend:#thought-stream-text-3" in consumer.fragment(events.reasoning_delta(run_id=3, step=0, delta="lo!"))
    # a model that answered in plain text: the stream goes, the answer is the agent's message
    [answer] = events.message_events(said)
    html = consumer.fragment(answer)
    assert 'id="thought-stream-3" hx-swap-oob="delete"' in html and '<div class="msg agent"><div class="bubble">Hello!' in html

    consumer.fragment(events.reasoning_delta(run_id=3, step=1, delta="Think"))
    # the pieces of its tool calls are for API clients: the thought goes on streaming where it is
    call = events.tool_call_delta(run_id=3, step=1, message_id=6, call=0, tool_call_id="c", name="send_message",
                                  tool="send_message", delta='{"message": "Hi')
    spoken = events.assistant_delta(run_id=3, step=1, message_id=6, tool_call_id="c", delta="Hi")
    assert consumer.fragment(call) == consumer.fragment(spoken) == "" and consumer.streaming == {3}
    usage = events.usage(run_id=3, step_id=10, step=1, purpose="agent", tokens={"prompt_total": 5}, usage=None,
                         latency_ms=1)
    assert "beforebegin:#thought-stream-3" in consumer.fragment(usage)  # where the page puts a step's line
    thought = events.reasoning(MessageView(6, "assistant", "assistant", "Think", run_id=3), "Think")
    html = consumer.fragment(thought)
    assert 'hx-swap-oob="beforebegin:#thought-stream-3"' in html and "inner thoughts" in html
    assert 'id="thought-stream-3" hx-swap-oob="delete"' in html
    assert consumer.streaming == set()


def test_a_kind_the_browser_does_not_show_renders_nothing(consumer):
    assert consumer.fragment(Event(type="a_future_kind", run_id=3)).strip() == ""
