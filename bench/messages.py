"""Agent-to-agent round trip: what a message that waits for another agent's reply adds, against the
same LLM calls made as two plain turns, through the live stack.

    .venv/bin/python bench/messages.py [--rounds 100]

The round trip: POST /v1/agents/{asker}/messages, which waits for the turn. The asker calls
send_message_to_agent_and_wait_for_reply; its run is suspended (stored, no worker held), the
answerer's turn runs and answers, the reply queues the asker again, and its turn resumes and
answers. Three LLM calls. The plain turns make the same three calls: a two-step turn (a cheap tool
with a heartbeat, then a message) and a one-step turn, each through the API, one after the other.
The scripted LLM answers at once, so every millisecond measured is ours; each round times both
paths, so they see the same load on a shared machine.
"""

import argparse
import re
import time

from common import live_api, median, percentile, setup_django, table


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return (time.perf_counter() - started) * 1000


def script(answerer_id: str):
    from tests.fake_llm import tool_call

    def respond(request):
        name = re.match(r"You are (.+?), a MemGPT agent", request["messages"][0]["content"])[1]
        first = '"type": "heartbeat"' not in (request["messages"][-1]["content"] or "")
        if name == "asker" and first:
            return tool_call("send_message_to_agent_and_wait_for_reply",
                             {"other_agent_id": answerer_id, "message": "ping", "request_heartbeat": True})
        if name == "two-step" and first:
            return tool_call("conversation_search_date", {"start_date": "2000-01-01", "end_date": "2000-01-01",
                                                          "request_heartbeat": True})
        return tool_call("send_message", {"message": "pong"})

    return respond


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    setup_django()

    import httpx

    from agents.services import agent_create, messages_reset

    with live_api("bench-messages") as (stack, llm, user, headers):
        def agent(name: str, **fields):
            return agent_create(owner=user, name=name, persona="I am a benchmark.", human="-", model="gpt-4o-mini",
                                context_window=128_000, **fields)

        asker, answerer = agent("asker", include_multi_agent_tools=True), agent("answerer")
        two_step, one_step = agent("two-step"), agent("one-step")
        llm.responder = script(f"agent-{answerer.pk}")
        client = httpx.Client(base_url=stack.url, headers=headers, timeout=60)
        body = {"messages": [{"role": "user", "content": "hello"}]}

        def turn(target) -> dict:
            response = client.post(f"/v1/agents/agent-{target.pk}/messages", json=body)
            assert response.status_code == 200, response.text
            answer = response.json()
            assert answer["stop_reason"]["stop_reason"] == "end_turn", answer
            return answer

        def round_trip():
            answer = turn(asker)
            results = [m["tool_return"] for m in answer["messages"] if m["message_type"] == "tool_return_message"]
            assert "pong" in results, answer

        def plain_turns():
            turn(two_step)
            turn(one_step)

        for _ in range(10):  # warm up: connections, caches, the sandbox-free paths of both processes
            round_trip()
            plain_turns()
        samples: dict[str, list[float]] = {"round trip": [], "plain": []}
        for round_ in range(args.rounds):
            if round_ % 10 == 0:  # untimed: contexts stay between 0 and 10 turns long
                for each in (asker, answerer, two_step, one_step):
                    messages_reset(agent=each)
            samples["round trip"].append(timed(round_trip))
            samples["plain"].append(timed(plain_turns))
        assert llm.refused == [], llm.refused

    trip, plain = median(samples["round trip"]), median(samples["plain"])
    rows = [["agent-to-agent round trip (asker waits for answerer)", f"{trip:.1f}", f"{percentile(samples['round trip'], 0.95):.1f}"],
            ["two plain turns, same 3 LLM calls", f"{plain:.1f}", f"{percentile(samples['plain'], 0.95):.1f}"]]
    print(table(["through the API", "p50 ms", "p95 ms"], rows))
    print(f"added by the round trip: {trip - plain:+.1f} ms at p50; round trip / plain turns {trip / plain:.2f}x")


if __name__ == "__main__":
    main()
