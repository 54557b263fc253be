"""The agent page's Schedule tab with Django's test client: what is scheduled and by whom, the form,
Cancel, escaping, and nobody else's agents."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from agents.models import ScheduledMessage
from agents.schedules import schedule_create
from agents.services import agent_create
from tests.factories import make_run, make_step, make_user

pytestmark = pytest.mark.django_db
XSS = "<script>alert('x')</script>"


@pytest.fixture
def agent(db):
    return agent_create(owner=make_user(), name="Sam")


@pytest.fixture
def owner_client(client, agent):
    client.force_login(agent.owner)
    return client


def test_the_tab_lists_what_is_scheduled_by_whom_escaped(owner_client, agent):
    step = make_step(make_run(agent))
    soon = timezone.now() + timedelta(hours=2)
    schedule_create(agent=agent, kind="message", text=XSS, at=soon, user=agent.owner)
    schedule_create(agent=agent, kind="heartbeat", text="check the news", note=XSS, every_seconds=3600, step_id=step.pk)
    page = owner_client.get(reverse("agent", args=[agent.pk]))
    assert 'hx-get="/agents/%d/schedules"' % agent.pk in page.content.decode()  # the tab
    html = owner_client.get(reverse("agent-schedules", args=[agent.pk])).content.decode()
    assert XSS not in html and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert agent.owner.username in html and f"the agent, step {step.index} of run {step.run_id}" in html
    assert "every 1h" in html and "once" in html and soon.strftime("%Y-%m-%d %H:%M") in html


def test_the_form_schedules_a_heartbeat_every_n_minutes_or_says_what_is_wrong(owner_client, agent):
    url = reverse("agent-schedules", args=[agent.pk])
    response = owner_client.post(url, {"kind": "heartbeat", "text": "stretch", "every_minutes": "30"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    schedule = ScheduledMessage.objects.get(agent=agent)
    assert (schedule.kind, schedule.text, schedule.every_seconds) == ("heartbeat", "stretch", 1800)
    assert schedule.created_by == agent.owner and schedule.actor == "user"
    assert "stretch" in response.content.decode()

    missing = owner_client.post(url, {"kind": "message", "text": "hi"})
    assert missing.status_code == 422 and "Say when: a time, an interval in minutes, or both." in missing.content.decode()
    past = owner_client.post(url, {"kind": "message", "text": "hi", "at": "2020-01-01T09:00"})
    assert past.status_code == 422 and "Not scheduled: 2020-01-01T09:00:00+00:00 is past" in past.content.decode()
    assert ScheduledMessage.objects.filter(agent=agent).count() == 1


def test_cancel_takes_it_off_the_list(owner_client, agent):
    schedule = schedule_create(agent=agent, kind="message", text="hi", at=timezone.now() + timedelta(hours=1))
    response = owner_client.post(reverse("agent-schedule-cancel", args=[agent.pk, schedule.pk]))
    assert response.status_code == 200 and "Nothing scheduled." in response.content.decode()
    schedule.refresh_from_db()
    assert schedule.status == "cancelled" and schedule.next_run_at is None


def test_another_users_agent_and_schedules_are_not_found(client, agent):
    schedule = schedule_create(agent=agent, kind="message", text="hi", at=timezone.now() + timedelta(hours=1))
    client.force_login(make_user())
    assert client.get(reverse("agent-schedules", args=[agent.pk])).status_code == 404
    assert client.post(reverse("agent-schedules", args=[agent.pk]), {"kind": "message", "text": "hi",
                                                                     "every_minutes": "5"}).status_code == 404
    assert client.post(reverse("agent-schedule-cancel", args=[agent.pk, schedule.pk])).status_code == 404
    schedule.refresh_from_db()
    assert schedule.status == "active" and ScheduledMessage.objects.count() == 1
