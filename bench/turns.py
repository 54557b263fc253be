"""Turn overhead: a two-step turn (a memory edit with a heartbeat, then a message) through the live
stack, against the same turn in the engine alone and against the floor of the machinery it rides on.

    .venv/bin/python bench/turns.py [--turns 200]

The scripted LLM answers at once, so every millisecond measured is ours. Printed side by side, from
one run: the API (POST /v1/agents/{id}/messages, which waits for the turn) through daphne, Celery,
PostgreSQL and Redis; the same turn run in-process on the database (no web, no Celery); the engine
alone (in-memory store); and the floor: a bare Celery round trip and a bare channel-layer push.
Each round times every path once, so all of them see the same load on a shared machine; the floor
counts the channel-layer pushes one turn really makes.
"""

import argparse
import asyncio
import time

from common import live_api, median, percentile, setup_django, table


def timed(function) -> float:
    started = time.perf_counter()
    function()
    return (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--turns", type=int, default=200)
    args = parser.parse_args()
    setup_django()

    import httpx
    from channels.layers import get_channel_layer
    from django.conf import settings

    from agents.engine.loop import Event, Turn, TurnSettings
    from agents.events import agent_group
    from agents.llm.openai_chat import OpenAIChat
    from agents.models import Run
    from agents.services import agent_create, messages_reset, run_execute
    from memory.tokens import tokenizer_for_model
    from playground.health import worker_answers
    from tests.agents.in_memory_store import InMemoryStore, make_state

    queue = "bench-turns"
    with live_api(queue) as (stack, llm, user, headers):
        settings.OPENAI_BASE_URL, settings.OPENAI_API_KEY, settings.LLM_MODEL = llm.base_url, "x", "gpt-4o-mini"
        agent = agent_create(owner=user, name="bench", persona="I am a benchmark.", human="visits: even",
                             model="gpt-4o-mini", context_window=128_000)
        client = httpx.Client(base_url=stack.url, headers=headers, timeout=60)
        url = f"/v1/agents/agent-{agent.pk}/messages"
        body = {"messages": [{"role": "user", "content": "hello"}]}

        def api_turn():
            response = client.post(url, json=body)
            assert response.status_code == 200 and response.json()["stop_reason"]["stop_reason"] == "end_turn", response.text

        def db_turn():
            run = Run.objects.create(agent=agent, trigger="user_message", input="hello")
            run_execute(run=run)
            assert run.status == "completed", run.error

        tokenizer, approximate = tokenizer_for_model("gpt-4o-mini")
        chat = OpenAIChat(base_url=llm.base_url, api_key="x", timeout=30)

        def engine_turn():
            state = make_state(context_window=128_000)
            state.blocks[1].value = "visits: even"
            Turn(store=InMemoryStore(state), llm=chat, publish=lambda e: None, tokenizer=tokenizer,
                 approximate=approximate, settings=TurnSettings()).run(Event("user_message", "hello"))

        layer = get_channel_layer()
        loop = asyncio.new_event_loop()  # one loop for every round trip: channels_redis keeps a connection per loop
        floor_channel = loop.run_until_complete(layer.new_channel())
        loop.run_until_complete(layer.group_add("bench-floor", floor_channel))

        async def channel_push_and_receive():
            await layer.group_send("bench-floor", {"type": "x"})
            await layer.receive(floor_channel)

        def channel_round_trip():
            loop.run_until_complete(channel_push_and_receive())

        for _ in range(20):
            api_turn()  # warm up: models, connections, caches in both processes
        pushes = count_pushes(agent_group(agent.pk), api_turn)

        # round robin, so that every path is measured under the same load of the shared machine
        samples: dict[str, list[float]] = {name: [] for name in ("api", "db", "engine", "celery", "channel")}
        for round_ in range(args.turns):
            if round_ % 10 == 0:
                messages_reset(agent=agent)  # untimed: the context stays between 0 and 20 turns long
            samples["api"].append(timed(api_turn))
            samples["db"].append(timed(db_turn))
            samples["engine"].append(timed(engine_turn))
            samples["celery"].append(timed(lambda: worker_answers(10, queue=queue)))
            samples["channel"].append(timed(channel_round_trip))
        floor_p50 = 2 * median(samples["celery"]) + pushes * median(samples["channel"]) / 2

    names = {"api": "API turn (daphne + Celery + Postgres + Redis)", "db": "in-process turn on the database",
             "engine": "engine alone (in-memory store)", "celery": "bare Celery round trip",
             "channel": "bare channel-layer round trip"}
    rows = [[names[key], f"{median(s):.1f}", f"{percentile(s, 0.95):.1f}"] for key, s in samples.items()]
    print(table(["two-step turn", "p50 ms", "p95 ms"], rows))
    api_p50 = median(samples["api"])
    print(f"floor = 2 Celery round trips + {pushes} channel pushes (the turn's events; half a round trip each) "
          f"= {floor_p50:.1f} ms at p50")
    print(f"ratios: API/floor {api_p50 / floor_p50:.2f}x (target 3x); API/engine {api_p50 / median(samples['engine']):.1f}x; "
          f"API p50 {api_p50:.1f} ms (target 70 ms)")


def count_pushes(group: str, turn) -> int:
    """The channel-layer messages one turn sends: its events to the agent's group, plus the stop
    sent again to the run's own group (which the API's answer waits on)."""
    from asgiref.sync import async_to_sync

    from memory.broadcast import Listener

    listener = async_to_sync(Listener.open)(group)
    turn()

    async def drain() -> int:
        count = 0
        while await listener.receive(1.0) is not None:
            count += 1
        await listener.close()
        return count

    return async_to_sync(drain)() + 1


if __name__ == "__main__":
    main()
