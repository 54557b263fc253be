"""Celery's acknowledgements, time limits and Redis visibility timeout agree with a turn's deadline
(playground/settings.py, "supervision"): a turn the API still waits for is never cut short, and a
task is never handed to a second worker while the first still runs it."""

import json
import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

import agents.tasks  # noqa: F401  (every task of ours registered, as in a worker)
import memory.tasks  # noqa: F401
import playground.tasks  # noqa: F401
from agents.models import Agent
from playground.api.turns import wait_seconds
from playground.celery import app

ROOT = Path(__file__).resolve().parents[2]
OURS = ("agents.", "memory.", "playground.")
NAMES = ("TURN_DEADLINE_SECONDS", "CELERY_TASK_ANNOTATIONS", "CELERY_BROKER_TRANSPORT_OPTIONS")


def limits(conf: dict) -> dict:
    """Each of our tasks' (soft, hard) limits, and the visibility timeout, from a settings dict."""
    annotations = conf["CELERY_TASK_ANNOTATIONS"]
    return {
        "deadline": conf["TURN_DEADLINE_SECONDS"],
        "turn": (annotations["agents.process_runs"]["soft_time_limit"], annotations["agents.process_runs"]["time_limit"]),
        "hard": {name: a["time_limit"] for name, a in annotations.items()},
        "soft": {name: a["soft_time_limit"] for name, a in annotations.items()},
        "visibility": conf["CELERY_BROKER_TRANSPORT_OPTIONS"]["visibility_timeout"],
    }


def assert_agree(found: dict, api_wait: float) -> None:
    soft, hard = found["turn"]
    assert api_wait <= found["deadline"] < soft < hard < found["visibility"]
    assert all(found["soft"][name] < found["hard"][name] < found["visibility"] for name in found["hard"])


def test_the_turn_task_is_acknowledged_late_and_limited_by_the_deadline():
    task = app.tasks["agents.process_runs"]
    assert task.acks_late and task.reject_on_worker_lost  # a killed worker's turn task comes back
    assert (task.soft_time_limit, task.time_limit) == (settings.TURN_SOFT_TIME_LIMIT, settings.TURN_TIME_LIMIT)
    ours = sorted(name for name in app.tasks if name.startswith(OURS))
    # every task of ours has both limits, each under the visibility timeout
    assert all(app.tasks[name].soft_time_limit and app.tasks[name].time_limit for name in ours), ours
    assert app.conf.broker_transport_options["visibility_timeout"] > max(app.tasks[name].time_limit for name in ours)
    default_agent = Agent(max_steps=settings.AGENT_MAX_STEPS)
    assert_agree(limits({name: getattr(settings, name) for name in NAMES}), wait_seconds(default_agent))


def test_the_limits_follow_the_llm_timeout_and_step_limit_from_the_environment():
    code = ("import json, playground.settings as s; "
            f"print(json.dumps({{n: getattr(s, n) for n in {NAMES!r}}}))")
    env = {**os.environ, "LLM_TIMEOUT": "600", "AGENT_MAX_STEPS": "50", "INGEST_SOFT_TIME_LIMIT": "60"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    found = limits(json.loads(result.stdout))
    assert found["deadline"] == 600 * 52
    assert_agree(found, 600 * (50 + 2))
