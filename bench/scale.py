"""Scale with the conversation: the same two-step turn through the API when the agent has 10, 1,000
and 50,000 stored messages (and 10,000 archival passages at the largest size).

    .venv/bin/python bench/scale.py [--turns 50]

The stored history sits in recall memory (out of the context window), as it would after a long
life; the cost of a turn must not grow with it (no full scans, no loading whole histories).
"""

import argparse
import random
import time

from common import live_api, median, percentile, setup_django, table

SIZES = [(10, 0), (1_000, 0), (50_000, 10_000)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=50)
    args = parser.parse_args()
    setup_django()

    import httpx
    from django.db import connection

    from agents.services import agent_create, messages_reset
    from memory.models import Message, Passage

    rng = random.Random(7)
    rows = []
    with live_api("bench-scale") as (stack, llm, user, headers):
        http = httpx.Client(base_url=stack.url, headers=headers, timeout=60)
        for messages, passages in SIZES:
            agent = agent_create(owner=user, name=f"scale {messages}", persona="I remember a lot.", human="visits: even",
                                 model="gpt-4o-mini", context_window=128_000)
            started = time.perf_counter()
            for start in range(0, messages, 5000):
                Message.objects.bulk_create(
                    Message(owner=user, agent=agent, role="user" if i % 2 == 0 else "assistant",
                            kind="user_message" if i % 2 == 0 else "assistant", content=f"old message {i}",
                            text=f"old message {i} about topic {i % 97}", in_context=False)
                    for i in range(start, min(start + 5000, messages)))
            for start in range(0, passages, 2000):
                Passage.objects.bulk_create(
                    Passage(owner=user, agent=agent, text=f"passage {i}", embedding_model="local/all-MiniLM-L6-v2",
                            embedding=[rng.gauss(0, 1) for _ in range(384)])
                    for i in range(start, min(start + 2000, passages)))
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE memory_message; ANALYZE memory_passage")
            seeded = time.perf_counter() - started
            url = f"/v1/agents/agent-{agent.pk}/messages"

            def turn():
                response = http.post(url, json={"messages": [{"role": "user", "content": "hello"}]})
                assert response.status_code == 200 and response.json()["stop_reason"]["stop_reason"] == "end_turn"

            for _ in range(10):
                turn()
            samples = []
            for i in range(args.turns):
                if i % 20 == 19:
                    messages_reset(agent=agent)  # the context stays the same size; recall memory grows
                began = time.perf_counter()
                turn()
                samples.append((time.perf_counter() - began) * 1000)
            rows.append((messages, passages, seeded, samples))

    print(table(["stored messages", "passages", "seeded in s", "p50 ms", "p95 ms"],
                [[f"{m:,}", f"{p:,}", f"{s:.1f}", f"{median(x):.1f}", f"{percentile(x, 0.95):.1f}"]
                 for m, p, s, x in rows]))
    base = median(rows[0][3])
    print("ratios: " + "; ".join(f"{m:,} messages / 10: {median(x) / base:.2f}x" for m, _, _, x in rows[1:])
          + " (target: within 1.5x)")


if __name__ == "__main__":
    main()
