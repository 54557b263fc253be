"""Turns pinned as scenario files: every file of tests/scenarios/ replays against the current code with
no difference; an edited expectation is reported as exactly that difference; a fresh run exported
then replayed passes; the page and the API hand the file to its owner only."""

import json
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from agents.errors import HistoryMissing, ScenarioUnavailable
from agents.history import scenarios
from agents.history.scenarios import dumps, scenario_export, scenario_replay
from agents.models import Agent, ModelServer, Run, Step
from agents.services import agent_create, run_execute, tool_attach, tool_create, turn_enqueue
from tests.factories import make_user
from tests.fake_llm import error, tool_call

pytestmark = pytest.mark.django_db(transaction=True)
PINNED = sorted((Path(__file__).resolve().parents[1] / "scenarios").glob("*.json"))
ROLL = ('def roll(sides: int) -> int:\n    """Roll a die.\n\n    Args:\n        sides: how many sides\n    """\n'
        '    return sides - 2\n')


def replay_command(*paths) -> tuple[str, str, int]:
    """replay_scenario's output, errors and exit status."""
    out, err = _Buffer(), _Buffer()
    try:
        call_command("replay_scenario", *map(str, paths), stdout=out, stderr=err)
    except CommandError as failure:
        return out.text, err.text + str(failure), failure.returncode
    return out.text, err.text, 0


class _Buffer:
    def __init__(self):
        self.text = ""

    def write(self, text):
        self.text += text

    def flush(self):
        pass


def finished_turn(agent, text) -> Run:
    run = turn_enqueue(agent=agent, text=text)
    run_execute(run=Run.objects.select_related("agent").get(pk=run.pk))
    run.refresh_from_db()
    return run


@pytest.fixture
def agent(db):
    return agent_create(owner=make_user(), name="Sam", persona="I am Sam.", human="")


@pytest.mark.parametrize("path", PINNED, ids=[p.stem for p in PINNED])
def test_every_pinned_scenario_replays_with_no_difference(path):
    users = get_user_model().objects.count()

    out, err, status = replay_command(path)

    assert status == 0, out + err
    assert out.startswith(f"PASS {path} (")
    assert get_user_model().objects.count() == users  # the scratch user went, with its agent and model server
    assert not ModelServer.objects.filter(name=scenarios.SERVER).exists()


def test_the_pinned_scenarios_cover_memory_archival_and_pressure():
    kinds = {p.stem: {call["name"] for call in json.loads(p.read_text())["expect"]["tool_calls"]} for p in PINNED}
    purposes = {p.stem: {r["purpose"] for r in json.loads(p.read_text())["responses"]} for p in PINNED}
    assert "core_memory_append" in kinds["remember_a_name"]
    assert {"archival_memory_insert", "archival_memory_search"} <= kinds["archival_then_answer"]
    assert "summary" in purposes["memory_pressure_flush"]
    for path in PINNED:  # written as dumps writes them, so a new export of the same run is a small diff
        assert path.read_text(encoding="utf-8") == dumps(json.loads(path.read_text(encoding="utf-8")))


def test_an_edited_expectation_is_reported_as_exactly_that_difference(tmp_path):
    scenario = json.loads((PINNED[0].parent / "remember_a_name.json").read_text())
    scenario["expect"]["blocks"]["human"] = "Name: Bob"
    send = next(call for call in scenario["expect"]["tool_calls"] if call["name"] == "send_message")
    send["arguments"]["message"] = "Hello, Bob!"
    edited = tmp_path / "edited.json"
    edited.write_text(dumps(scenario))

    report = scenario_replay(scenario)
    out, err, status = replay_command(edited)

    assert report.differences == [
        'tool call 1: expected send_message({"message": "Hello, Bob!"}) at step 1 got '
        'send_message({"message": "Nice to meet you, Ada!"}) at step 1',
        "block human: expected 'Name: Bob' got 'Name: Ada'",
    ]
    assert status == 1 and "1 of 1 scenarios failed" in err
    assert out.splitlines() == [f"FAIL {edited} ({scenario['name']})"] + [f"  - {d}" for d in report.differences]


def test_a_model_asked_more_often_than_recorded_is_a_difference(settings):
    settings.LLM_MAX_RETRIES = 0  # the missing answer fails the turn at once
    scenario = json.loads((PINNED[0].parent / "remember_a_name.json").read_text())
    scenario["responses"].pop()

    differences = scenario_replay(scenario).differences

    assert "the model was asked 2 times, 1 more than the 1 recorded" in differences
    assert "status: expected completed got failed" in differences
    assert 'tool call 1: expected send_message({"message": "Nice to meet you, Ada!"}) at step 1, none made' in differences


def test_a_fresh_run_exported_then_replayed_passes(agent, llm, tmp_path):
    """With a custom tool, a tool rule and a provider error retried: the parts the pinned files do not have."""
    tool_attach(agent=agent, tool=tool_create(owner=agent.owner, source_code=ROLL))
    Agent.objects.filter(pk=agent.pk).update(tool_rules=[{"type": "run_first", "tool_name": "roll"}])
    llm.enqueue(error(503, "The server is overloaded."),
                tool_call("roll", {"sides": 6, "request_heartbeat": True}, content="Roll first."),
                tool_call("send_message", {"message": "You rolled a 4."}))
    run = finished_turn(agent, "Roll a die for me")
    assert run.status == Run.Status.COMPLETED, run.error
    path = tmp_path / "roll.json"

    call_command("pin_scenario", str(run.pk), "-o", str(path), stderr=_Buffer())

    scenario = json.loads(path.read_text())
    assert scenario["responses"][0] == {"purpose": "agent", "error": {"status": 503, "message": "The server is overloaded."}}
    assert scenario["agent"]["tools"][-1]["source_code"] == ROLL
    assert scenario["expect"]["messages"][2] == {"role": "tool", "kind": "tool_result", "text": "4", "status": "OK"}
    out, err, status = replay_command(path)
    assert status == 0, out + err


def test_a_turn_that_stops_otherwise_now_fails_its_scenario(agent, llm):
    llm.enqueue(tool_call("core_memory_append", {"label": "human", "content": "Likes owls", "request_heartbeat": True}),
                tool_call("send_message", {"message": "Owls!"}))
    scenario = scenario_export(run=finished_turn(agent, "I like owls"))
    scenario["agent"]["settings"]["max_steps"] = 1  # as if the loop now stopped after one step

    differences = scenario_replay(scenario).differences

    assert "stop reason: expected end_turn got max_steps" in differences
    assert "the model was asked 1 time, 1 fewer than the 2 recorded" in differences


def test_export_refuses_an_unfinished_run_and_one_without_state(agent, llm):
    queued = turn_enqueue(agent=agent, text="hello")
    with pytest.raises(ScenarioUnavailable, match="queued"):
        scenario_export(run=queued)

    llm.enqueue(tool_call("send_message", {"message": "Hi"}))
    run_execute(run=Run.objects.select_related("agent").get(pk=queued.pk))
    queued.refresh_from_db()
    Step.objects.filter(run=queued).update(state={})
    with pytest.raises(HistoryMissing):
        scenario_export(run=queued)


def test_an_unreadable_file_exits_2_and_the_others_still_run(tmp_path):
    broken, other, edited = tmp_path / "broken.json", tmp_path / "other.json", tmp_path / "edited.json"
    broken.write_text("{not json")
    other.write_text(json.dumps({"format": "something-else"}))
    scenario = json.loads(PINNED[0].read_text())
    del scenario["agent"]["settings"]["system"]
    edited.write_text(dumps(scenario))
    users = get_user_model().objects.count()

    out, err, status = replay_command(broken, PINNED[0], other, tmp_path / "missing.json", edited)

    assert status == 2
    assert out.startswith(f"PASS {PINNED[0]}")
    assert f"ERROR {broken}: not JSON" in err and f"ERROR {other}: not a scenario" in err
    assert f"ERROR {tmp_path / 'missing.json'}: cannot read the file" in err
    assert f"ERROR {edited}: the scenario's agent cannot be made: KeyError: 'system'" in err
    assert "4 of 5 files could not be read as scenarios" in err
    assert get_user_model().objects.count() == users


def test_the_scratch_user_goes_even_when_the_replay_fails(monkeypatch):
    users = get_user_model().objects.count()

    def broken(scenario, agent):
        raise RuntimeError("boom")

    monkeypatch.setattr(scenarios, "_replayed_differences", broken)
    with pytest.raises(RuntimeError):
        scenario_replay(json.loads(PINNED[0].read_text()))
    assert get_user_model().objects.count() == users


def test_the_page_and_the_api_give_the_scenario_to_its_owner_only(agent, llm):
    llm.enqueue(tool_call("send_message", {"message": "Hi <b>there</b>"}))
    run = finished_turn(agent, "hello")
    owner, other = Client(), Client()
    owner.force_login(agent.owner)
    other.force_login(make_user())
    url = f"/agents/{agent.pk}/runs/{run.pk}/scenario.json"

    page = owner.get(url)

    assert page.status_code == 200
    assert page["Content-Disposition"] == f'attachment; filename="scenario-run-{run.pk}.json"'
    assert json.loads(page.content) == scenario_export(run=run)
    assert other.get(url).status_code == 404

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {Token.objects.create(user=agent.owner).key}")
    answer = api.get(f"/v1/runs/run-{run.pk}/scenario")
    assert answer.status_code == 200 and answer.json() == scenario_export(run=run)
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {Token.objects.create(user=make_user()).key}")
    assert api.get(f"/v1/runs/run-{run.pk}/scenario").status_code == 404


def test_the_page_explains_a_run_that_cannot_be_pinned(agent, llm):
    run = turn_enqueue(agent=agent, text="hello")
    client = Client()
    client.force_login(agent.owner)

    answer = client.get(f"/agents/{agent.pk}/runs/{run.pk}/scenario.json")

    assert answer.status_code == 409 and answer["Content-Type"].startswith("text/plain")
    assert b"only a finished turn can be pinned" in answer.content
