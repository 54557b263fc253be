"""Token streaming and resumed streams, through the live stack, against a model that writes a piece
every 20 ms (about 50 tokens a second, a fast hosted model).

    .venv/bin/python bench/streaming.py [--turns 20] [--pace 0.02]

One turn: the model thinks (~25 words), then calls send_message with an answer of ~80 words. Printed
side by side, from one run, for streams with and without stream_tokens: how long until the client
shows the first words of the answer (the first assistant_message chunk), and until the turn is over
([DONE]). Then a stream dropped after its first chunks and read on from its last seq_id
(POST /v1/runs/{id}/stream): how long the reconnection takes to its first chunk, and whether every
event came exactly once.
"""

import argparse
import json
import time

from common import live_api, median, percentile, setup_django, table

THOUGHTS = ("The user asks for a plan of the week; I know from core memory that she swims on Tuesdays and "
            "works late on Thursdays, so I will build the plan around those two fixed points.")
ANSWER = " ".join(["Here is a plan for your week: Monday is for the report, Tuesday swimming at seven,"] * 5)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--pace", type=float, default=0.02, help="seconds between the model's pieces")
    args = parser.parse_args()
    setup_django()

    import httpx

    from agents.services import agent_create
    from tests.fake_llm import paced, tool_call

    with live_api("bench-streaming", concurrency=2) as (stack, llm, user, headers):
        llm.responder = lambda request: paced(args.pace, tool_call("send_message", {"message": ANSWER}, content=THOUGHTS))
        agent = agent_create(owner=user, name="bench streaming", persona="I plan weeks.", human="Ada.",
                             model="gpt-4o-mini", context_window=128_000)
        client = httpx.Client(base_url=stack.url, headers=headers, timeout=120)
        url = f"/v1/agents/agent-{agent.pk}/messages/stream"

        def turn(stream_tokens: bool) -> tuple[float, float, int]:
            started = time.perf_counter()
            first = None
            chunks = 0
            body = {"messages": [{"role": "user", "content": "plan my week"}], "stream_tokens": stream_tokens}
            with client.stream("POST", url, json=body) as response:
                for line in response.iter_lines():
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    chunks += 1
                    if first is None and json.loads(line[6:])["message_type"] == "assistant_message":
                        first = time.perf_counter() - started
            return first * 1000, (time.perf_counter() - started) * 1000, chunks

        def resumed() -> tuple[float, bool]:
            body = {"messages": [{"role": "user", "content": "plan my week"}], "stream_tokens": True,
                    "background": True}
            seen = []
            with client.stream("POST", url, json=body) as response:
                for line in response.iter_lines():
                    if line.startswith("data: "):
                        seen.append(json.loads(line[6:]))
                        if len(seen) == 10:
                            break  # the client goes away mid-answer
            run_id, last = seen[-1]["run_id"], seen[-1]["seq_id"]
            started = time.perf_counter()
            reconnect = None
            with client.stream("POST", f"/v1/runs/{run_id}/stream", json={"starting_after": last}) as response:
                for line in response.iter_lines():
                    if line.startswith("data: ") and line != "data: [DONE]":
                        reconnect = reconnect or (time.perf_counter() - started) * 1000
                        seen.append(json.loads(line[6:]))
            with client.stream("POST", f"/v1/runs/{run_id}/stream", json={"starting_after": 0}) as response:
                whole = [json.loads(line[6:]) for line in response.iter_lines()
                         if line.startswith("data: ") and line != "data: [DONE]"]
            said = "".join(c["content"] for c in seen if c["message_type"] == "assistant_message")
            once = [c["seq_id"] for c in seen] == [c["seq_id"] for c in whole] and said == ANSWER
            return reconnect, once

        turn(True)
        turn(False)  # warm up
        samples = {True: [], False: []}
        for _ in range(args.turns):
            for mode in (True, False):  # alternated, so both see the same load
                samples[mode].append(turn(mode))
        rows = []
        for mode, name in ((False, "whole messages"), (True, "stream_tokens")):
            firsts, totals, chunks = zip(*samples[mode])
            rows.append([name, f"{median(firsts):.0f}", f"{percentile(firsts, 0.95):.0f}", f"{median(totals):.0f}",
                         f"{median(chunks):.0f}"])
        print(table(["stream", "first words p50 ms", "p95 ms", "turn over p50 ms", "chunks"], rows))
        whole_first = median([s[0] for s in samples[False]])
        tokens_first = median([s[0] for s in samples[True]])
        print(f"first words: {whole_first / tokens_first:.1f}x sooner with stream_tokens "
              f"(the model takes {args.pace * 1000:.0f} ms a piece)")
        reconnects = [resumed() for _ in range(5)]
        print(f"dropped after 10 chunks and read on from the last seq_id, 5 times: first chunk after "
              f"{median([r for r, _ in reconnects]):.0f} ms (p50); every event exactly once: "
              f"{all(once for _, once in reconnects)}")


if __name__ == "__main__":
    main()
