"""The smaller routes clients call, through the official SDK where it has them (plain HTTP where it
has not): summarize, messages of all one's agents, a run's trace, editing a message, tags, and a
JSON 404 for any other /v1 path."""

import json

import pytest
from django.test import Client
from django.utils import timezone
from letta_client import BadRequestError, NotFoundError
from letta_client.types.agents import AssistantMessage, ReasoningMessage, UserMessage
from rest_framework.authtoken.models import Token

from agents.engine import prompts
from agents.models import Agent
from agents.models import Run as RunRow
from memory.models import Message
from tests.factories import make_agent, make_message, make_run, make_step, make_user
from tests.fake_llm import error, text, tool_call

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def agent(api):
    return api.sdk.agents.create(name="Sam", model="openai/gpt-4o-mini", memory_blocks=[
        {"label": "persona", "value": "I am Sam."}, {"label": "human", "value": "Name: Ada"}])


def row(letta_agent) -> Agent:
    return Agent.objects.get(pk=int(letta_agent.id.removeprefix("agent-")))


def chat(api, live_llm, agent, said: str, answer: str) -> None:
    live_llm.enqueue(tool_call("send_message", {"message": answer}, content=f"Answer {said}."))
    api.sdk.agents.messages.create(agent.id, messages=[{"role": "user", "content": said}])


# --- summarize ------------------------------------------------------------------------------------


def test_summarize_folds_the_oldest_messages_into_the_summary_on_the_worker(api, live_llm, agent):
    for said in ("I live in Lyon", "I play chess", "I have a cat"):
        chat(api, live_llm, agent, said, f"Noted: {said}")
    in_context = Message.objects.filter(agent=row(agent), in_context=True)
    before = in_context.count()
    oldest = in_context.order_by("id").first()
    live_llm.enqueue(text("Ada lives in Lyon and plays chess."))

    compaction = api.sdk.agents.messages.compact(agent.id)

    assert compaction.summary == "Ada lives in Lyon and plays chess."
    assert compaction.num_messages_before == before
    kept = Message.objects.filter(agent=row(agent), in_context=True)
    assert compaction.num_messages_after == kept.count() < before
    # the engine's own flush: the summary prompt had the evicted messages, which left the context
    # (still in recall memory), and the summary message took their place
    request = live_llm.chat_requests()[-1]
    assert request["messages"][0]["content"].startswith("You maintain the long-term summary")
    assert "I live in Lyon" in request["messages"][1]["content"]
    assert not Message.objects.get(pk=oldest.pk).in_context
    summary = kept.get(kind=Message.Kind.SUMMARY)
    assert summary.text == compaction.summary and "hidden from view" in summary.content
    # a run of the agent's, so it never interleaves with its turns; its step is in its trace
    run = RunRow.objects.get(pk=int(compaction.model_extra["run_id"].removeprefix("run-")))
    assert run.trigger == RunRow.Trigger.SYSTEM and run.status == RunRow.Status.COMPLETED
    [span] = api.sdk.runs.trace.retrieve(compaction.model_extra["run_id"])
    assert span["span_name"] == "summary" and span["request_json"] == request

    # the next turn is sent the summary in place of the evicted messages
    chat(api, live_llm, agent, "What do you know?", "Lyon and chess")
    sent = json.dumps(live_llm.chat_requests()[-1]["messages"])
    assert "Ada lives in Lyon and plays chess." in sent and "Answer I live in Lyon." not in sent


def test_a_summary_the_llm_fails_says_why_and_evicts_nothing(api, live_llm, agent):
    for said in ("I live in Lyon", "I play chess"):
        chat(api, live_llm, agent, said, "Noted")
    in_context = set(Message.objects.filter(agent=row(agent), in_context=True).values_list("pk", flat=True))
    live_llm.enqueue(error(400, "This model cannot summarize."))

    answer = api.http.post(f"/v1/agents/{agent.id}/summarize", json={})

    assert answer.status_code == 200  # the answer starts before the run ends, as a turn's does
    body = answer.json()
    assert body["code"] == "summary_failed" and "This model cannot summarize." in body["detail"]
    assert set(Message.objects.filter(agent=row(agent), in_context=True).values_list("pk", flat=True)) == in_context


def test_summarize_with_too_few_messages_says_so(api, agent, live_llm):
    with pytest.raises(BadRequestError) as refused:
        api.sdk.agents.messages.compact(agent.id)
    assert "nothing to summarize" in refused.value.body["detail"]
    assert not RunRow.objects.filter(agent=row(agent)).exists()  # nothing queued
    assert live_llm.chat_requests() == []


def test_summarize_of_someone_elses_agent_is_not_found(api, other, agent):
    with pytest.raises(NotFoundError):
        other.sdk.agents.messages.compact(agent.id)


# --- messages of all one's agents -----------------------------------------------------------------


def test_messages_lists_all_my_agents_messages_and_nobody_elses(api, other):
    mine = [make_agent(owner=api.user, name=f"mine {n}") for n in range(2)]
    theirs = make_agent(owner=other.user, name="theirs")
    rows = [make_message(mine[n % 2], text=f"hello {n}", content=prompts.user_message(f"hello {n}", timezone.now()))
            for n in range(5)]
    make_message(theirs, text="secret", content=prompts.user_message("secret", timezone.now()))

    newest_first = api.sdk.messages.list()
    assert [m.content for m in newest_first] == [f"hello {n}" for n in range(4, -1, -1)]
    assert all(isinstance(m, UserMessage) for m in newest_first)
    assert newest_first[0].model_extra["agent_id"] == f"agent-{mine[0].pk}"

    first_page = api.sdk.messages.list(order="asc", limit=2)
    assert [m.content for m in first_page] == ["hello 0", "hello 1"]
    after = api.sdk.messages.list(order="asc", limit=2, after=first_page[-1].id)
    assert [m.content for m in after] == ["hello 2", "hello 3"]
    before = api.sdk.messages.list(order="asc", before=f"message-{rows[2].pk}")
    assert [m.content for m in before] == ["hello 0", "hello 1"]
    assert api.sdk.messages.list(include_return_message_types=["assistant_message"]) == []
    assert [m.content for m in other.sdk.messages.list()] == ["secret"]


# --- a run's trace ----------------------------------------------------------------------------------


def test_run_trace_has_each_steps_exact_request_response_usage_and_latency(api, live_llm, agent, other):
    live_llm.enqueue(
        tool_call("core_memory_append", {"label": "human", "content": "Likes tea", "request_heartbeat": True},
                  content="Worth keeping."),
        tool_call("send_message", {"message": "Tea, noted."}, content="Answer."),
    )
    response = api.sdk.agents.messages.create(agent.id, messages=[{"role": "user", "content": "I like tea"}])
    [run_id] = response.usage.run_ids

    spans = api.sdk.runs.trace.retrieve(run_id)

    requests = live_llm.chat_requests()
    assert [s["span_name"] for s in spans] == ["agent_step", "agent_step"]
    assert [s["request_json"] for s in spans] == requests  # exactly what was sent
    steps = api.sdk.runs.steps.list(run_id, order="asc").items
    for span, step in zip(spans, steps):
        assert span["step_id"] == step.id and span["run_id"] == run_id and span["trace_id"] == run_id
        assert span["usage"]["prompt_tokens"] == span["prompt_tokens"] > 0 and span["completion_tokens"] > 0
        assert span["latency_ms"] >= 0 and span["tokens"]["prompt_total"] > 0
        assert span["response_json"] and span["error"] is None
    assert api.sdk.runs.trace.retrieve(run_id, limit=1) == spans[:1]
    with pytest.raises(NotFoundError):
        other.sdk.runs.trace.retrieve(run_id)


def test_run_trace_shows_a_failed_calls_error(api):
    agent = make_agent(owner=api.user)
    run = make_run(agent, status=RunRow.Status.FAILED, stop_reason=RunRow.StopReason.ERROR)
    make_step(run, error="The provider said 500", latency_ms=12.4)
    [span] = api.sdk.runs.trace.retrieve(f"run-{run.pk}")
    assert span["error"] == "The provider said 500" and span["response_json"] is None and span["latency_ms"] == 12


# --- editing a message ------------------------------------------------------------------------------


def edit(api, agent_id: str, message_id: str, **fields):
    return api.http.patch(f"/v1/agents/{agent_id}/messages/{message_id}", json=fields)


def test_editing_a_user_message_keeps_it_packed_as_the_model_reads_it(api, live_llm, agent):
    chat(api, live_llm, agent, "I live in Lyon", "Lyon, noted")
    user = Message.objects.get(agent=row(agent), kind=Message.Kind.USER_MESSAGE)
    packed_before = json.loads(user.content)

    answer = edit(api, agent.id, f"message-{user.pk}", message_type="user_message", content="I live in Paris")

    assert answer.status_code == 200, answer.text
    shown = UserMessage.model_validate(answer.json())
    assert shown.content == "I live in Paris" and shown.id == f"message-{user.pk}"
    user.refresh_from_db()
    assert json.loads(user.content) == {**packed_before, "message": "I live in Paris"} and user.text == "I live in Paris"
    # the next prompt has the new words, packed as before
    chat(api, live_llm, agent, "Where do I live?", "Paris")
    sent = [m["content"] for m in live_llm.chat_requests()[-1]["messages"] if m["role"] == "user"]
    assert user.content in sent and not any("Lyon" in m for m in sent if m)
    listed = api.sdk.agents.messages.list(agent.id, order="asc").items
    assert next(m for m in listed if isinstance(m, UserMessage)).content == "I live in Paris"


def test_editing_what_the_agent_said_and_thought_changes_its_tool_call(api, live_llm, agent):
    chat(api, live_llm, agent, "Hi", "Hello Ada!")
    said = Message.objects.get(agent=row(agent), kind=Message.Kind.ASSISTANT)
    message_id = f"message-{said.pk}"

    answer = edit(api, agent.id, message_id, message_type="assistant_message", content=[{"type": "text", "text": "Hi, Ada."}])
    assert AssistantMessage.model_validate(answer.json()).content == "Hi, Ada."
    answer = edit(api, agent.id, message_id, message_type="reasoning_message", reasoning="Greet her warmly.")
    assert ReasoningMessage.model_validate(answer.json()).reasoning == "Greet her warmly."

    said.refresh_from_db()
    [call] = said.tool_calls
    assert json.loads(call["function"]["arguments"]) == {"message": "Hi, Ada."}
    assert said.content == "Greet her warmly." and said.text == "Hi, Ada."
    # the next prompt replays the edited call and thoughts; the tool protocol still holds
    chat(api, live_llm, agent, "Again?", "Yes")
    sent = live_llm.chat_requests()[-1]["messages"]
    replayed = next(m for m in sent if m.get("tool_calls"))
    assert replayed["content"] == "Greet her warmly." and replayed["tool_calls"][0]["function"]["arguments"] == \
        call["function"]["arguments"]
    assert live_llm.refused == []


def test_edits_that_would_break_a_message_are_refused(api, live_llm, agent, other):
    chat(api, live_llm, agent, "Hi", "Hello!")
    user = Message.objects.get(agent=row(agent), kind=Message.Kind.USER_MESSAGE)
    said = Message.objects.get(agent=row(agent), kind=Message.Kind.ASSISTANT)
    result = Message.objects.filter(agent=row(agent), kind=Message.Kind.TOOL_RESULT).first()
    before = {m.pk: (m.content, m.text, m.tool_calls) for m in Message.objects.filter(agent=row(agent))}

    refusals = [
        (user, {"message_type": "assistant_message", "content": "x"}, "not as assistant_message"),
        (said, {"message_type": "user_message", "content": "x"}, "not as user_message"),
        (user, {"message_type": "user_message", "content": "  "}, "empty"),
        (user, {"message_type": "user_message"}, "edited with content"),
        (said, {"message_type": "reasoning_message", "content": "x"}, "edited with reasoning"),
        (user, {"message_type": "tool_return_message", "content": "x"}, "message_type"),
        (user, {"message_type": "user_message", "content": [{"type": "image", "url": "x"}]}, "Only text"),
    ]
    if result is not None:
        refusals.append((result, {"message_type": "system_message", "content": "x"}, "cannot be edited"))
    for message, fields, words in refusals:
        answer = edit(api, agent.id, f"message-{message.pk}", **fields)
        assert answer.status_code == 400 and answer.headers["content-type"] == "application/json", (fields, answer.text)
        assert words in answer.json()["detail"], (fields, answer.json())
    assert before == {m.pk: (m.content, m.text, m.tool_calls) for m in Message.objects.filter(agent=row(agent))}
    # another user's agent, or a message of another agent: not found
    assert edit(other, agent.id, f"message-{user.pk}", message_type="user_message", content="x").status_code == 404
    elsewhere = make_agent(owner=api.user)
    assert edit(api, f"agent-{elsewhere.pk}", f"message-{user.pk}", message_type="user_message",
                content="x").status_code == 404


def test_a_system_message_takes_plain_words_or_its_packed_event(api):
    agent = make_agent(owner=api.user)
    moment = timezone.now()
    alert = make_message(agent, kind=Message.Kind.SYSTEM_ALERT, content=prompts.system_alert("Memory is full", moment),
                         text="Memory is full")
    answer = edit(api, f"agent-{agent.pk}", f"message-{alert.pk}", message_type="system_message", content="Memory is fine")
    assert answer.status_code == 200, answer.text
    alert.refresh_from_db()
    assert json.loads(alert.content)["message"] == "Memory is fine" and json.loads(alert.content)["type"] == "system_alert"
    assert answer.json()["content"] == alert.content  # shown as the model sees it

    whole = json.dumps({"type": "system_alert", "message": "Edited whole", "time": "now"})
    assert edit(api, f"agent-{agent.pk}", f"message-{alert.pk}", message_type="system_message",
                content=whole).status_code == 200
    alert.refresh_from_db()
    assert alert.content == whole and alert.text == "Edited whole"
    other_type = json.dumps({"type": "login", "message": "x"})
    answer = edit(api, f"agent-{agent.pk}", f"message-{alert.pk}", message_type="system_message", content=other_type)
    assert answer.status_code == 400 and "type" in answer.json()["detail"]


# --- tags -----------------------------------------------------------------------------------------


def test_tags_through_the_sdk(api, other):
    make_agent(owner=api.user, tags=["work", "chess"])
    make_agent(owner=api.user, tags=["chess", "travel"])
    make_agent(owner=other.user, tags=["secret"])

    assert api.sdk.tags.list() == ["chess", "travel", "work"]
    assert api.sdk.tags.list(order="desc") == ["work", "travel", "chess"]
    assert api.sdk.tags.list(after="chess", limit=1) == ["travel"]
    assert api.sdk.tags.list(before="work") == ["chess", "travel"]
    assert api.sdk.tags.list(query_text="av") == ["travel"]
    assert api.sdk.tags.list(name="ch") == ["chess"]
    assert other.sdk.tags.list() == ["secret"]


# --- any other /v1 path ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["get", "post", "put", "patch", "delete"])
def test_unknown_routes_answer_json_404_for_every_method_and_caller(method):
    user = make_user()
    token = Token.objects.create(user=user).key
    anonymous, by_token = Client(enforce_csrf_checks=True), Client(enforce_csrf_checks=True,
                                                                    HTTP_AUTHORIZATION=f"Bearer {token}")
    by_session = Client(enforce_csrf_checks=True)
    by_session.force_login(user)  # a browser that is logged in to the pages, without a CSRF token
    for client in (anonymous, by_token, by_session):
        for path in ("/v1/no/such/route", "/v1/agents/agent-1/nothing-here", "/v1/"):
            body = {} if method == "get" else {"data": json.dumps({"a": 1}), "content_type": "application/json"}
            response = getattr(client, method)(path, **body)
            assert response.status_code == 404, (method, path, response.content[:200])
            assert response["Content-Type"] == "application/json"
            assert response.json() == {"detail": f"No route {method.upper()} {path}.", "code": "not_found"}


def test_a_csrf_refusal_under_v1_is_json():
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user())
    response = client.post("/v1/docs", data="{}", content_type="application/json")
    assert response.status_code == 403 and response.json()["code"] == "csrf_failed"
