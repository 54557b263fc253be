"""Six hundred generated model outputs through the real worker, against a scripted server that refuses
what OpenAI refuses: unknown and over-long names, arguments of wrong types, huge and negative numbers,
dates out of range, NUL and lone surrogates, megabyte strings, deeply nested JSON, parallel calls.
Afterwards every agent answers its next message, and no request broke the chat protocol."""

import json
import random

from agents.engine.tools import TOOL_NAMES
from agents.models import Run
from agents.services import agent_create, turn_enqueue
from memory.models import Passage
from tests.factories import make_user
from tests.fake_llm import Response, text, tool_call, tool_calls
from tests.helpers import wait_until

OUTPUTS = 600
AGENTS = 6
SUMMARY_MARK = "You maintain the long-term summary"
ODD_NAMES = ["teleport", "x" * 300, "send message", "core_memory_append\x00", "記憶", "", "send_message()", "../etc"]
ODD_RAW = ["", "{", "null", "[]", "42", '"text"', "{'single': 'quotes'}", "[" * 5000 + "]" * 5000,
           '{"a":' * 3000 + "1" + "}" * 3000, "NaN", '{"message": NaN}', "\x00", '{"message": "\\ud800"}']
KEYS = ["label", "content", "old_content", "new_content", "message", "query", "page", "start_date", "end_date",
        "request_heartbeat", "thinking"]


def odd_value(rng: random.Random):
    return rng.choice([
        "", "Ada likes chess", "human", "persona", "nul \x00 inside", "lone \ud800 surrogate", "é 漢字 🙂",
        "x" * 300, "9999-12-31", "0001-01-01", "2026-02-30", "yesterday", 0, -5, 10**30, -(10**30), 3.5, True, None,
        [1, 2, 3], {"nested": {"deeper": [None]}}, ["human"] * 50,
    ])


def arguments(rng: random.Random) -> dict | str:
    if rng.random() < 0.15:
        return rng.choice(ODD_RAW)
    if rng.random() < 0.01:
        return {"message": "m" * 1_000_000, "content": "c" * 1_000_000, "label": "human"}
    picked = rng.sample(KEYS, rng.randint(0, 6))
    args = {key: odd_value(rng) for key in picked}
    if rng.random() < 0.5:
        args["request_heartbeat"] = rng.choice([True, True, False, "yes", 1])
    return args


def model_output(rng: random.Random) -> Response:
    thoughts = rng.choice([None, "", "Thinking \x00 about \ud800 it.", "ok", "t" * 5000])
    if rng.random() < 0.08:
        return text(rng.choice(["A plain answer.", "", "nul \x00", "lone \ud800", "w " * 3000]))

    def one() -> Response:
        name = rng.choice(TOOL_NAMES) if rng.random() < 0.75 else rng.choice(ODD_NAMES)
        return tool_call(name, arguments(rng))

    if rng.random() < 0.1:
        return tool_calls([one() for _ in range(rng.randint(2, 4))], content=thoughts)
    response = one()
    return Response(content=thoughts, calls=response.calls)


def test_six_hundred_odd_model_outputs_leave_every_agent_answering(llm, celery_worker):
    rng = random.Random(20261129)
    owner = make_user()
    # embedded by the scripted server: the local model would spend the minutes this test is not about
    agents = [agent_create(owner=owner, name=f"fuzz {n}", persona="I am a fuzzed agent.", human="",
                           embedding_model="openai/fake-embedding") for n in range(AGENTS)]
    served = {"outputs": 0, "kinds": set()}

    def answer(request: dict) -> Response:
        if SUMMARY_MARK in request["messages"][0]["content"]:
            return text(rng.choice(["A summary.", "nul \x00 summary", ""]))
        if served["outputs"] >= OUTPUTS:
            return tool_call("send_message", {"message": "I am here."})
        served["outputs"] += 1
        response = model_output(rng)
        served["kinds"] |= {call.name[:20] for call in response.calls} or {"text"}
        return response

    llm.responder = answer
    turns = 0
    while served["outputs"] < OUTPUTS:
        for agent in agents:
            turn_enqueue(agent=agent, text=rng.choice(["hi", "what do you remember?", "tell me more", "é 漢字 🙂"]))
        turns += len(agents)
        wait_until(lambda: Run.objects.filter(agent__in=agents, finished_at__isnull=False).count() == turns,
                   timeout=300, message="the fuzzed turns")

    # a megabyte answer is more than max_tokens allows: that turn fails, clearly, and keeps nothing of it
    errors = list(Run.objects.filter(agent__in=agents).exclude(status=Run.Status.COMPLETED).values_list("error", flat=True))
    assert all("more than max_tokens allows" in error for error in errors), errors
    assert llm.refused == [], llm.refused[:3]
    assert {"text", "teleport", "send_message"} <= served["kinds"]
    assert Passage.objects.filter(agent__in=agents).exists()  # the good calls among the odd ones took effect

    # every agent answers its next message, with a provider that checks the whole history
    llm.responder = lambda request: text("A summary.") if SUMMARY_MARK in request["messages"][0]["content"] else None
    for agent in agents:
        llm.enqueue(tool_call("send_message", {"message": f"{agent.name} is fine."}))
        run = turn_enqueue(agent=agent, text="are you all right?")
        wait_until(lambda: Run.objects.get(pk=run.pk).finished_at is not None, timeout=60, message="the last turn")
        run.refresh_from_db()
        assert (run.status, run.stop_reason) == ("completed", "end_turn"), run.error
    assert llm.refused == []
    assert all(json.dumps(r["json"]) for r in llm.requests if r["json"])  # every request was valid JSON
