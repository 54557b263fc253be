"""The live stack the tests start: a stack that cannot start leaves no process behind."""

import subprocess
import sys

import pytest
from django.conf import settings

from tests.live_stack import LiveStack


def test_a_stack_whose_worker_dies_at_start_stops_its_web_process(monkeypatch, tmp_path, django_db_setup):
    started = {}
    start = LiveStack._start

    def start_or_die(self, name, mode):
        if name == "worker":  # a worker that exits at once, as one with a broken import does
            (self.logs / "worker.log").write_text("ImportError: a broken import\n")
            started[name] = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
        else:
            started[name] = start(self, name, mode)
        return started[name]

    monkeypatch.setattr(LiveStack, "_start", start_or_die)
    with pytest.raises(AssertionError, match="worker exited"):
        LiveStack(llm_url="http://127.0.0.1:9", database=settings.DATABASES["default"]["NAME"], queue="doomed",
                  channels_prefix="doomed", logs=tmp_path)
    assert started["web"].poll() is not None  # before the fix, daphne lived on after the session
