import os
import subprocess
import sys
from pathlib import Path

import pytest

from playground.env import EnvError, env_bool, env_float, env_int, env_list, env_url

ROOT = Path(__file__).resolve().parents[2]


def test_booleans_take_the_usual_spellings_and_refuse_the_rest(monkeypatch):
    monkeypatch.setenv("FLAG", "Yes")
    assert env_bool("FLAG") is True
    monkeypatch.setenv("FLAG", "off")
    assert env_bool("FLAG", True) is False
    monkeypatch.setenv("FLAG", "maybe")
    with pytest.raises(EnvError, match="FLAG='maybe' is not a boolean"):
        env_bool("FLAG")


def test_numbers_are_checked_against_type_and_range(monkeypatch):
    monkeypatch.setenv("N", "12")
    assert env_int("N", 1, minimum=1) == 12
    monkeypatch.setenv("N", "twelve")
    with pytest.raises(EnvError, match="N='twelve' is not a whole number"):
        env_int("N", 1)
    monkeypatch.setenv("N", "0")
    with pytest.raises(EnvError, match="below the minimum of 1"):
        env_int("N", 5, minimum=1)
    monkeypatch.setenv("N", "0.25")
    assert env_float("N", 1.0) == 0.25


def test_unset_or_blank_values_take_the_default(monkeypatch):
    monkeypatch.delenv("N", raising=False)
    monkeypatch.setenv("BLANK", "  ")
    assert env_int("N", 7) == 7
    assert env_bool("BLANK", True) is True
    assert env_list("BLANK", ["a"]) == ["a"]
    monkeypatch.setenv("HOSTS", "a.example, b.example,")
    assert env_list("HOSTS", []) == ["a.example", "b.example"]


def test_urls_need_a_known_scheme_and_a_host(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "mysql://db/app")
    with pytest.raises(EnvError, match="must start with one of postgres://, postgresql://"):
        env_url("DATABASE_URL", schemes=("postgres", "postgresql"))
    monkeypatch.setenv("DATABASE_URL", "postgres:///app")
    with pytest.raises(EnvError, match="names no host"):
        env_url("DATABASE_URL", schemes=("postgres", "postgresql"))
    monkeypatch.setenv("DATABASE_URL", "postgres://u:p@db.internal:5433/app")
    assert env_url("DATABASE_URL", schemes=("postgres", "postgresql")) == "postgres://u:p@db.internal:5433/app"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DEBUG", "sometimes", "DEBUG='sometimes' is not a boolean"),
        ("REDIS_URL", "http://localhost:6379", "REDIS_URL='http://localhost:6379' must start with one of redis://"),
        ("AGENT_CONTEXT_WINDOW", "12k", "AGENT_CONTEXT_WINDOW='12k' is not a whole number"),
    ],
)
def test_a_bad_setting_stops_the_program_with_its_name(tmp_path, name, value, message):
    env = {**os.environ, "PLAYGROUND_DATA_DIR": str(tmp_path), name: value}
    result = subprocess.run([sys.executable, "-c", "import playground.settings"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert message in result.stderr


def test_database_url_becomes_django_database_settings(tmp_path):
    env = {**os.environ, "PLAYGROUND_DATA_DIR": str(tmp_path), "DATABASE_URL": "postgresql://me:secret@db.internal:5433/agents"}
    code = "import playground.settings as s; d = s.DATABASES['default']; print(d['NAME'], d['USER'], d['PASSWORD'], d['HOST'], d['PORT'])"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == ["agents", "me", "secret", "db.internal", "5433"], result.stderr


def test_secret_key_is_generated_once_and_kept(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"} | {"PLAYGROUND_DATA_DIR": str(tmp_path)}
    code = "import playground.settings as s; print(s.SECRET_KEY)"
    keys = [subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
                           timeout=60).stdout.strip() for _ in range(2)]
    assert len(keys[0]) >= 50 and keys[0] == keys[1]
    assert (tmp_path / "secret_key").read_text() == keys[0]
