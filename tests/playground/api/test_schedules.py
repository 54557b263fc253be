"""/v1/agents/{agent_id}/schedule through the official SDK's `agents.schedule` (create one-time and
recurring, list with cursors, retrieve, delete), someone else's agent, and bad input."""

import time
from datetime import datetime, timezone

import httpx
import letta_client
import pytest

from agents.models import ScheduledMessage
from agents.schedules import schedule_create
from agents.selectors import agent_for_owner
from playground.api.ids import from_id

pytestmark = pytest.mark.django_db(transaction=True)


def in_ms(seconds: float) -> int:
    return int((time.time() + seconds) * 1000)


def test_the_sdk_creates_lists_retrieves_and_deletes_scheduled_messages(api):
    agent = api.sdk.agents.create(name="Sam", model="openai/gpt-4o-mini")
    at = in_ms(3600)
    once = api.sdk.agents.schedule.create(agent.id, schedule={"type": "one-time", "scheduled_at": at},
                                          messages=[{"role": "user", "content": "Generate your daily summary"}],
                                          max_steps=5)
    assert datetime.fromisoformat(once.next_scheduled_at) == datetime.fromtimestamp(at / 1000, tz=timezone.utc)
    daily = api.sdk.agents.schedule.create(agent.id, schedule={"type": "recurring", "cron_expression": "0 9 * * *"},
                                           messages=[{"role": "user", "content": [{"type": "text", "text": "Good morning"}]}])
    assert datetime.fromisoformat(daily.next_scheduled_at).strftime("%H:%M:%S") == "09:00:00"
    every = api.sdk.agents.schedule.create(agent.id, schedule={"type": "recurring", "cron_expression": "@every 2h"},
                                           messages=[{"role": "user", "content": "Anything new?"}])

    got = api.sdk.agents.schedule.retrieve(once.id, agent_id=agent.id)
    assert (got.id, got.agent_id, got.schedule.type, got.schedule.scheduled_at) == (once.id, agent.id, "one-time", at)
    assert (got.message.messages[0].role, got.message.messages[0].content, got.message.max_steps) == (
        "user", "Generate your daily summary", 5)
    assert api.sdk.agents.schedule.retrieve(daily.id, agent_id=agent.id).message.messages[0].content == "Good morning"
    assert api.sdk.agents.schedule.retrieve(every.id, agent_id=agent.id).schedule.cron_expression == "@every 2h"

    page = api.sdk.agents.schedule.list(agent.id, limit="2")
    assert [s.id for s in page.scheduled_messages] == [once.id, daily.id] and page.has_next_page
    rest = api.sdk.agents.schedule.list(agent.id, after=daily.id, limit="2")
    assert [s.id for s in rest.scheduled_messages] == [every.id] and not rest.has_next_page

    assert api.sdk.agents.schedule.delete(once.id, agent_id=agent.id).success is True
    assert [s.id for s in api.sdk.agents.schedule.list(agent.id).scheduled_messages] == [daily.id, every.id]
    with pytest.raises(letta_client.NotFoundError):
        api.sdk.agents.schedule.retrieve(once.id, agent_id=agent.id)
    row = ScheduledMessage.objects.get(pk=from_id("schedule", once.id))
    assert (row.status, row.created_by, row.actor) == ("cancelled", api.user, "user")


def test_the_agents_own_heartbeats_are_listed_as_system_messages_on_an_interval(api):
    agent = api.sdk.agents.create(name="Sam", model="openai/gpt-4o-mini")
    row = agent_for_owner(owner=api.user, agent_id=from_id("agent", agent.id))
    schedule_create(agent=row, kind="heartbeat", text="check the news", every_seconds=5400)
    [listed] = api.sdk.agents.schedule.list(agent.id).scheduled_messages
    assert (listed.message.messages[0].role, listed.message.messages[0].content) == ("system", "check the news")
    assert (listed.schedule.type, listed.schedule.cron_expression) == ("recurring", "@every 1h30m")


def test_another_users_agent_cannot_be_scheduled_or_read(api, other):
    agent = api.sdk.agents.create(name="Sam", model="openai/gpt-4o-mini")
    mine = api.sdk.agents.schedule.create(agent.id, schedule={"scheduled_at": in_ms(600)},
                                          messages=[{"role": "user", "content": "hi"}])
    calls = [
        lambda: other.sdk.agents.schedule.create(agent.id, schedule={"scheduled_at": in_ms(600)},
                                                 messages=[{"role": "user", "content": "hi"}]),
        lambda: other.sdk.agents.schedule.list(agent.id),
        lambda: other.sdk.agents.schedule.retrieve(mine.id, agent_id=agent.id),
        lambda: other.sdk.agents.schedule.delete(mine.id, agent_id=agent.id),
    ]
    for call in calls:
        with pytest.raises(letta_client.NotFoundError):
            call()
    theirs = other.sdk.agents.create(name="Eve", model="openai/gpt-4o-mini")
    with pytest.raises(letta_client.NotFoundError):  # my schedule under their agent
        other.sdk.agents.schedule.retrieve(mine.id, agent_id=theirs.id)
    assert ScheduledMessage.objects.get(pk=from_id("schedule", mine.id)).status == "active"


@pytest.mark.parametrize("body, problem", [
    ({"schedule": {"type": "one-time", "scheduled_at": in_ms(-60)}, "messages": [{"role": "user", "content": "hi"}]},
     "is past"),
    ({"schedule": {"type": "recurring", "cron_expression": "every tuesday"}, "messages": [{"role": "user", "content": "hi"}]},
     "cron_expression: 'every tuesday' is not a cron expression"),
    ({"schedule": {"type": "recurring"}, "messages": [{"role": "user", "content": "hi"}]},
     "cron_expression: A recurring schedule needs cron_expression"),
    ({"schedule": {"type": "recurring", "cron_expression": "@every 10s"}, "messages": [{"role": "user", "content": "hi"}]},
     "an interval of 10s is too short: the shortest is 1m"),
    ({"schedule": {"type": "one-time", "scheduled_at": 1e300}, "messages": [{"role": "user", "content": "hi"}]},
     "scheduled_at: "),
    ({"schedule": {"type": "one-time", "scheduled_at": time.time() + 600}, "messages": [{"role": "user", "content": "hi"}]},
     "scheduled_at: Unix milliseconds, not seconds."),
    ({"schedule": {"scheduled_at": in_ms(3600)}, "messages": [{"role": "assistant", "content": "hi"}]},
     "Only a user message can be scheduled"),
    ({"schedule": {"scheduled_at": in_ms(3600)}, "messages": [{"role": "user", "content": " "}]}, "The message is empty"),
    ({"schedule": {"scheduled_at": in_ms(3600)}, "messages": [{"role": "user", "content": "hi"}],
      "callback_url": "http://example.com/hook"}, "callback_url: Callbacks are not supported here"),
    ({"messages": [{"role": "user", "content": "hi"}]}, "schedule: This field is required"),
])
def test_bad_input_gets_400_that_says_what_is_wrong(api, body, problem):
    agent = api.sdk.agents.create(name="Sam", model="openai/gpt-4o-mini")
    response = api.http.post(f"/v1/agents/{agent.id}/schedule", json=body)
    assert response.status_code == 400, response.text
    assert problem in response.json()["detail"], response.json()["detail"]
    assert not ScheduledMessage.objects.exists()


def test_the_schema_has_the_schedule_routes(live):
    paths = httpx.get(f"{live.url}/v1/openapi.json").json()["paths"]
    assert {"get", "post"} <= set(paths["/v1/agents/{agent_id}/schedule"])
    assert {"get", "delete"} <= set(paths["/v1/agents/{agent_id}/schedule/{scheduled_message_id}"])
