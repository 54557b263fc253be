"""A step's replays page: the form prefilled from the step, a POST that queues a replay on the worker, and
the fragment that polls until the new answer is there beside the stored one, model text escaped."""

import re

import pytest
from django.urls import reverse

from agents.models import Run, Step, StepReplay
from agents.services import agent_create, turn_enqueue
from playground.views.replays import change_lines
from tests.factories import make_user
from tests.fake_llm import tool_call
from tests.helpers import wait_for_runs, wait_until

pytestmark = pytest.mark.django_db(transaction=True)
XSS = "<script>alert('x')</script>"


@pytest.fixture
def step(llm, celery_worker):
    agent = agent_create(owner=make_user(), name="Sam", persona="I am Sam.", human="Name: Ada")
    llm.enqueue(tool_call("send_message", {"message": "Hello Ada!"}, content="A greeting."))
    turn_enqueue(agent=agent, text="Hi")
    [run] = wait_for_runs(agent)
    assert run.status == Run.Status.COMPLETED, run.error
    llm.reset()
    return Step.objects.get(agent=agent)


@pytest.fixture
def page_url(step):
    return reverse("step-replays", args=[step.agent_id, step.pk])


def poll(client, url) -> str:
    bodies = []

    def done():
        bodies.append(client.get(url).content.decode())
        return 'hx-trigger="every 1s"' not in bodies[-1]

    wait_until(done, timeout=20, message="the replay's answer")
    return bodies[-1]


def test_the_form_is_prefilled_from_the_step(client, step, page_url):
    client.force_login(step.agent.owner)
    page = client.get(page_url).content.decode()
    assert "Replay step 0 of run" in page and "No replays of this step yet." in page
    handle = step.state["agent"]["model"]
    assert (f'name="model" value="{handle}"' if handle else 'name="model"') in page
    assert 'name="temperature"' in page and f'value="{step.request["temperature"]}"' in page
    assert step.state["system"][:40] in page
    assert 'name="block:human"' in page and ">\nName: Ada</textarea>" in page
    assert '<option value="openai/gpt-4.1">' in page  # the models of the user's servers, offered
    assert re.search(r'<input type="checkbox" name="tools" value="send_message"[^>]*checked', page)
    assert not re.search(r'<input type="checkbox" name="tools" value="send_message_to_agent_async"[^>]*checked', page)
    # and the step's trace links to it
    trace = client.get(reverse("step", args=[step.agent_id, step.pk])).content.decode()
    assert page_url in trace


def test_a_post_queues_a_replay_and_the_fragment_shows_the_comparison_escaped(client, step, page_url, llm):
    client.force_login(step.agent.owner)
    tools = [t["function"]["name"] for t in step.request["tools"]]
    llm.enqueue(tool_call("send_message", {"message": XSS}, content=f"I answer {XSS} now."))

    system = step.state["system"].replace("\n", "\r\n")  # as a browser sends a textarea
    response = client.post(page_url, {"model": "", "temperature": "0.25", "system": system,
                                      "block:human": "Name: Grace\r\nLikes <b>owls</b>", "block:persona": "I am Sam.",
                                      "tools": tools}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    fragment = response.content.decode()
    replay = StepReplay.objects.get(step=step)
    # only what was changed: the CRLF a browser sends is not a change
    assert replay.changes == {"temperature": 0.25, "blocks": {"human": "Name: Grace\nLikes <b>owls</b>"}}
    assert 'hx-swap-oob="afterbegin:#replays"' in fragment and f'id="replay-{replay.pk}"' in fragment
    url = reverse("step-replay", args=[step.agent_id, replay.pk])
    assert f'hx-get="{url}"' in fragment

    body = poll(client, url)
    assert XSS not in body and "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in body
    assert '<ins class="add">' in body and '<del class="remove">' in body
    assert "A greeting." in body and "Prompt tokens (our count)" in body
    assert "temperature 0.25" in body and "block human" in body
    page = client.get(page_url).content.decode()
    assert f'id="replay-{replay.pk}"' in page and "No replays of this step yet." not in page
    trace = client.get(reverse("step", args=[step.agent_id, step.pk])).content.decode()
    assert re.search(r'href="%s"[^>]*>Replay \(1\)</a>' % re.escape(page_url), trace)


def test_invalid_changes_come_back_in_place(client, step, page_url):
    client.force_login(step.agent.owner)
    response = client.post(page_url, {"model": "openai/no-such-model", "temperature": "0.7", "tools": ["send_message"]},
                           HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and 'id="replay-form"' in body
    assert "Unknown model" in body and 'value="openai/no-such-model"' in body
    response = client.post(page_url, {"temperature": "7"}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "temperature:" in response.content.decode()
    assert not StepReplay.objects.exists()


def test_nobody_sees_another_users_step_or_replays(client, step, page_url):
    replay = StepReplay.objects.create(step=step, changes={}, request=step.request)
    client.force_login(make_user())
    assert client.get(page_url).status_code == 404
    assert client.post(page_url, {"temperature": "0.1"}).status_code == 404
    assert client.get(reverse("step-replay", args=[step.agent_id, replay.pk])).status_code == 404


def test_a_changed_tool_set_is_shown_as_what_it_lost_and_gained(step):
    tools = [t["function"]["name"] for t in step.request["tools"]]
    wanted = [n for n in tools if n != "conversation_search"] + ["schedule_wakeup"]
    assert change_lines({"tools": wanted, "temperature": 0.1}, step) == [
        "temperature 0.1", "tools −conversation_search +schedule_wakeup"]
    assert change_lines({"tools": []}, step) == ["no tools"]
    assert change_lines({}, step) == ["nothing: the same request again"]
