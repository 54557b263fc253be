import io

import pytest
from django.core.management import call_command

from agents.models import Agent
from memory.models import Message, Source
from tests.factories import make_user
from tests.fake_llm import tool_call

pytestmark = pytest.mark.django_db(transaction=True)


def chat(monkeypatch, lines: list[str], *args: str) -> str:
    monkeypatch.setattr("sys.stdin", io.StringIO("".join(line + "\n" for line in lines)))
    out = io.StringIO()
    call_command("chat", *args, stdout=out, timeout=30)
    return out.getvalue()


def test_a_piped_conversation_streams_thoughts_tools_and_replies(monkeypatch, llm, redis_available):
    make_user(username="root", is_superuser=True, is_staff=True)
    llm.enqueue(
        tool_call("core_memory_append", {"label": "human", "content": "Likes tea", "request_heartbeat": True},
                  content="She likes tea; noting it."),
        tool_call("send_message", {"message": "Tea it is!"}),
        tool_call("send_message", {"message": "I'm awake."}),
    )
    out = chat(monkeypatch, ["I like tea", "/memory", "/heartbeat", "/dump", "/pop", "/nonsense", "/exit", "ignored"],
               "--agent", "Sam", "--create", "--persona", "companion")

    assert "created agent 'Sam'" in out
    assert "thinking: She likes tea; noting it." in out
    assert '⚙ core_memory_append({"label": "human", "content": "Likes tea", "request_heartbeat": true})' in out
    assert "✎ human is now" in out
    assert "Sam: Tea it is!" in out
    assert "Likes tea\n</value>" in out  # /memory
    assert "Sam: I'm awake." in out  # /heartbeat
    assert "unknown command /nonsense" in out
    agent = Agent.objects.get(name="Sam")
    assert "My name is Sam" in agent.blocks.get(label="persona").value  # the companion template
    assert "removed" in out and not Message.objects.filter(agent=agent, kind="heartbeat", text__contains="wake you up").exists()
    assert len(llm.chat_requests()) == 3


def test_attach_a_source_by_name(monkeypatch, llm, redis_available):
    owner = make_user(username="root", is_superuser=True)
    Source.objects.create(owner=owner, name="manuals")
    out = chat(monkeypatch, ["/attach manuals", "/attach nothing"], "--agent", "Doc", "--create")
    assert "attached manuals" in out and "no source named 'nothing'" in out
    assert list(Source.objects.get(name="manuals").agents.values_list("name", flat=True)) == ["Doc"]
