"""Turn overhead: a two-step turn (a memory edit with a heartbeat, then a message) through the live
stack, against the same turn in the engine alone and against the floor of the machinery it rides on.

    .venv/bin/python bench/turns.py [--turns 200]

The scripted LLM answers at once, so every millisecond measured is ours. Printed side by side, from
one run: the API (POST /v1/agents/{id}/messages, which waits for the turn) through daphne, Celery,
PostgreSQL and Redis; the same turn run in-process on the database (no web, no Celery); the engine
alone (in-memory store); and the floor: a bare Celery round trip and a bare channel-layer push.
"""

import argparse
import time

from common import live_api, median, percentile, setup_django, table


def timed(function, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=200)
    args = parser.parse_args()
    setup_django()

    import httpx
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer
    from django.conf import settings

    from agents.engine.loop import Event, Turn, TurnSettings
    from agents.llm.openai_chat import OpenAIChat
    from agents.models import Run
    from agents.services import agent_create, messages_reset, run_execute
    from memory.tokens import tokenizer_for_model
    from playground.tasks import ping
    from tests.agents.in_memory_store import InMemoryStore, make_state

    queue = "bench-turns"
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = queue
    with live_api(queue) as (stack, llm, user, headers):
        settings.OPENAI_BASE_URL, settings.OPENAI_API_KEY, settings.LLM_MODEL = llm.base_url, "x", "gpt-4o-mini"
        agent = agent_create(owner=user, name="bench", persona="I am a benchmark.", human="visits:",
                             model="gpt-4o-mini", context_window=128_000)
        client = httpx.Client(base_url=stack.url, headers=headers, timeout=60)
        url = f"/v1/agents/agent-{agent.pk}/messages"
        body = {"messages": [{"role": "user", "content": "hello"}]}

        def api_turn():
            response = client.post(url, json=body)
            assert response.status_code == 200 and response.json()["stop_reason"]["stop_reason"] == "end_turn", response.text

        def reset_every(n):  # keep the context the same size from turn to turn
            count = 0

            def turn(function):
                nonlocal count
                count += 1
                if count % n == 0:
                    messages_reset(agent=agent)
                function()
            return turn

        for _ in range(20):
            api_turn()  # warm up: models, connections, caches in both processes
        wrap = reset_every(20)
        api = timed(lambda: wrap(api_turn), args.turns)

        def db_turn():
            run = Run.objects.create(agent=agent, trigger="user_message", input="hello")
            run_execute(run=run)
            assert run.status == "completed", run.error
        db = timed(lambda: wrap(db_turn), args.turns)

        tokenizer, approximate = tokenizer_for_model("gpt-4o-mini")
        chat = OpenAIChat(base_url=llm.base_url, api_key="x", timeout=30)

        def engine_turn():
            state = make_state(context_window=128_000)
            state.blocks[1].value = "visits:"
            Turn(store=InMemoryStore(state), llm=chat, publish=lambda e: None, tokenizer=tokenizer,
                 approximate=approximate, settings=TurnSettings()).run(Event("user_message", "hello"))
        engine = timed(engine_turn, args.turns)

        celery = timed(lambda: ping.apply_async(queue=queue).get(timeout=10), args.turns)
        layer = get_channel_layer()

        async def channel_round_trips(n):
            channel = await layer.new_channel()
            await layer.group_add("bench-floor", channel)
            samples = []
            for _ in range(n):
                started = time.perf_counter()
                await layer.group_send("bench-floor", {"type": "x"})
                await layer.receive(channel)
                samples.append((time.perf_counter() - started) * 1000)
            return samples
        channel = async_to_sync(channel_round_trips)(args.turns)
        events = 12  # what a two-step turn publishes: started, user message, 2 usage, 2 reasoning?, call, result, change, message, stop
        floor_p50 = 2 * median(celery) + events * median(channel) / 2

    rows = [[name, f"{median(s):.1f}", f"{percentile(s, 0.95):.1f}"] for name, s in [
        ("API turn (daphne + Celery + Postgres + Redis)", api), ("in-process turn on the database", db),
        ("engine alone (in-memory store)", engine), ("bare Celery round trip", celery),
        ("bare channel-layer round trip", channel)]]
    print(table(["two-step turn", "p50 ms", "p95 ms"], rows))
    print(f"floor = 2 Celery round trips + {events} channel pushes (half a round trip each) = {floor_p50:.1f} ms at p50")
    print(f"ratios: API/floor {median(api) / floor_p50:.2f}x; API/engine {median(api) / median(engine):.1f}x; "
          f"API p50 {median(api):.1f} ms (target 70 ms, 3x floor)")


if __name__ == "__main__":
    main()
