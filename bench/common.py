"""What the bench scripts share: Django on the configured (or embedded) services, in a database of
their own so that a development database never sees their rows, and small timing helpers."""

import os
import statistics
import sys
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "playground.settings")


def setup_django() -> None:
    """Start the embedded servers if they are used, switch to `<database>_bench` (created and
    migrated on first use) and set Django up."""
    from playground import embedded

    embedded.ensure_for_environment()
    import django
    from django.conf import settings

    bench_name = settings.DATABASES["default"]["NAME"] + "_bench"
    _create_database(bench_name)
    settings.DATABASES["default"]["NAME"] = bench_name
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _create_database(name: str) -> None:
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    params = {"dbname": "postgres", "user": db["USER"], "host": db["HOST"], "port": db["PORT"] or None}
    if db.get("PASSWORD"):
        params["password"] = db["PASSWORD"]
    with psycopg.connect(**{k: v for k, v in params.items() if v is not None}, autocommit=True) as connection:
        if not connection.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def median(values: list[float]) -> float:
    return statistics.median(values)


def table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    line = lambda row: "  ".join(str(cell).rjust(width) if i else str(cell).ljust(width)  # noqa: E731
                                 for i, (cell, width) in enumerate(zip(row, widths)))
    return "\n".join([line(header), line(["-" * w for w in widths]), *map(line, rows)])


def two_step(request):
    """The scripted LLM's side of the benchmarked turn: a memory edit with a heartbeat, then a reply.

    The edit is a real one (a new value, a revision): the human block says "visits: odd" or
    "visits: even" (agents are created with "visits: even") and every turn flips it."""
    from tests.fake_llm import tool_call

    last = request["messages"][-1]["content"] or ""
    if '"type": "user_message"' in last:
        now = "odd" if "visits: odd" in request["messages"][0]["content"] else "even"
        new = "even" if now == "odd" else "odd"
        return tool_call("core_memory_replace", {"label": "human", "old_content": f"visits: {now}",
                                                 "new_content": f"visits: {new}", "request_heartbeat": True})
    return tool_call("send_message", {"message": "Noted."})


@contextmanager
def live_api(name: str, concurrency: int = 8):
    """The scripted LLM answering `two_step` at once, a live stack (daphne and a worker) on the bench
    database with queue and channel prefix `name`, and the bench user's API headers."""
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from tests.fake_llm import FakeLLM
    from tests.live_stack import LiveStack

    # this process talks to the same queue and channel prefix as the stack it starts
    settings.CELERY_TASK_DEFAULT_QUEUE = name
    settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = name
    llm = FakeLLM().start()
    llm.responder = two_step
    stack = LiveStack(llm_url=llm.base_url, database=connection.settings_dict["NAME"], queue=name,
                      channels_prefix=name, logs=settings.DATA_DIR / "bench-logs", concurrency=concurrency)
    try:
        user, _ = get_user_model().objects.get_or_create(username="bench")
        token, _ = Token.objects.get_or_create(user=user)
        _wait_for_the_embedder(user)
        yield stack, llm, user, {"Authorization": f"Bearer {token.key}"}
    finally:
        stack.stop()
        llm.stop()


def _wait_for_the_embedder(user) -> None:
    """The worker loads the embedding model in the background as it starts (~5 s of CPU): wait for
    it to embed a message, so that no measurement shares the CPU with the loading."""
    import time

    from agents.services import agent_create
    from memory.models import Message
    from memory.services import messages_append

    agent = agent_create(owner=user, name="bench warm-up", persona="-", human="-", model="gpt-4o-mini")
    [message] = messages_append(agent_id=agent.pk, owner_id=user.pk, messages=[
        {"role": "user", "kind": "user_message", "content": "warm up", "text": "warm up"}])
    deadline = time.monotonic() + 120
    while Message.objects.filter(pk=message.pk, embedding__isnull=True).exists():
        assert time.monotonic() < deadline, "the worker did not embed a message in 120 s"
        time.sleep(0.1)
