"""Concurrency: 50 agents receiving messages at once from 50 clients, through the API.

    .venv/bin/python bench/concurrency.py [--agents 50 --messages 4 --llm-ms 0 --worker-threads 8]

Each client sends its agent `messages` messages one after another (a two-step turn each: a memory
edit with a heartbeat, then a reply); all clients start together. Prints throughput in turns per
second, latency p50/p95 next to a single agent's p50 measured the same way in the same run, and
checks that no message was lost or answered out of order.

With the scripted LLM answering at once (the default) the run measures our CPU per turn; with
`--llm-ms` it answers each call after that long, as a real model does, and the run measures how
well turns overlap while they wait on it.
"""

import argparse
import threading
import time

from common import live_api, median, percentile, setup_django, table, two_step


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=50)
    parser.add_argument("--messages", type=int, default=4)
    parser.add_argument("--llm-ms", type=float, default=0.0, help="the scripted LLM's time per call (default: at once)")
    parser.add_argument("--worker-threads", type=int, default=8, help="turns the worker runs at once")
    args = parser.parse_args()
    setup_django()

    import httpx

    from agents.services import agent_create
    from memory.models import Message

    with live_api("bench-concurrency", concurrency=args.worker_threads) as (stack, llm, user, headers):
        if args.llm_ms:
            from tests.fake_llm import delay

            llm.responder = lambda request: delay(args.llm_ms / 1000, two_step(request))
        agents = [agent_create(owner=user, name=f"crowd {n}", persona="I am one of many.", human="visits: even",
                               model="gpt-4o-mini", context_window=128_000) for n in range(args.agents + 1)]
        solo, crowd = agents[0], agents[1:]

        def client(agent, latencies: list[float], start: threading.Event) -> None:
            with httpx.Client(base_url=stack.url, headers=headers, timeout=300) as http:
                start.wait()
                for i in range(args.messages):
                    began = time.perf_counter()
                    response = http.post(f"/v1/agents/agent-{agent.pk}/messages",
                                         json={"messages": [{"role": "user", "content": f"message {i}"}]})
                    latencies.append((time.perf_counter() - began) * 1000)
                    assert response.status_code == 200, response.text

        single: list[float] = []
        go = threading.Event()
        go.set()
        client(solo, single, go)  # warm-up
        single.clear()
        for _ in range(5):
            client(solo, single, go)

        latencies: list[float] = []
        go = threading.Event()
        threads = [threading.Thread(target=client, args=(agent, latencies, go)) for agent in crowd]
        for thread in threads:
            thread.start()
        began = time.perf_counter()
        go.set()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - began

        lost = reordered = 0
        for agent in crowd:
            said = list(Message.objects.filter(agent=agent, kind="user_message").order_by("id").values_list("text", flat=True))
            expected = [f"message {i}" for i in range(args.messages)]
            lost += len(set(expected) - set(said))
            reordered += said != expected and not (set(expected) - set(said))

    turns = len(latencies)
    print(table(["", "turns", "p50 ms", "p95 ms"], [
        ["one agent alone", str(len(single)), f"{median(single):.1f}", f"{percentile(single, 0.95):.1f}"],
        [f"{args.agents} agents at once", str(turns), f"{median(latencies):.1f}", f"{percentile(latencies, 0.95):.1f}"],
    ]))
    print(f"throughput {turns / elapsed:.1f} turns/s over {elapsed:.1f} s; lost {lost}, reordered {reordered}; "
          f"LLM {args.llm_ms:g} ms per call, {args.worker_threads} worker threads")
    print(f"ratios: concurrent p95 / single p50 {percentile(latencies, 0.95) / median(single):.1f}x (target 5x); "
          f"lost {lost}, reordered {reordered}")


if __name__ == "__main__":
    main()
