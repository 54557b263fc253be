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


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.fixture
def open_umask(monkeypatch):
    """The loosest umask, and no chmod: a file is private only if it was created so (one created
    readable and narrowed afterwards could be read in between)."""
    import pathlib

    monkeypatch.setattr(os, "chmod", lambda *args, **kwargs: None)
    monkeypatch.setattr(pathlib.Path, "chmod", lambda *args, **kwargs: None)
    previous = os.umask(0)
    yield
    os.umask(previous)


def test_secret_key_file_is_private_from_the_start_and_processes_starting_together_share_one(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"} | {"PLAYGROUND_DATA_DIR": str(tmp_path)}
    # with the loosest umask and no chmod, a file is private only if it was created so
    code = ("import os, pathlib; os.umask(0); os.chmod = pathlib.Path.chmod = lambda *a, **k: None; "
            "import playground.settings as s; print(s.SECRET_KEY)")
    processes = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
                 for _ in range(4)]
    keys = {process.communicate(timeout=60)[0].strip() for process in processes}
    assert len(keys) == 1 and len(keys.pop()) >= 50
    assert _mode(tmp_path / "secret_key") == 0o600
    assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".secret_key")]  # nothing left aside


def test_write_private_creates_owner_only_files_and_keeps_or_replaces_them(tmp_path, open_umask):
    from playground.embedded import write_private

    path = tmp_path / "secret"
    assert write_private(path, "first") is True
    assert _mode(path) == 0o600 and path.read_text() == "first"
    assert write_private(path, "second") is False and path.read_text() == "first"
    assert write_private(path, "third", replace=True) is True
    assert _mode(path) == 0o600 and path.read_text() == "third"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret"]


def test_write_private_narrows_a_file_an_older_version_left_readable(tmp_path):
    from playground.embedded import write_private

    path = tmp_path / "secret"
    path.write_text("old")
    path.chmod(0o644)
    assert write_private(path, "new") is False
    assert _mode(path) == 0o600 and path.read_text() == "old"


@pytest.mark.django_db
def test_the_admin_password_file_is_private(tmp_path, open_umask):
    from playground.services import admin_user_ensure

    (tmp_path / "admin_password").write_text("admin old\n")  # from a database since reset
    (tmp_path / "admin_password").chmod(0o644)
    password = admin_user_ensure(data_dir=tmp_path)
    assert (tmp_path / "admin_password").read_text() == f"admin {password}\n"
    assert _mode(tmp_path / "admin_password") == 0o600


def test_embedded_redis_keeps_its_data_and_log_private(tmp_path):
    from playground import embedded

    services = embedded.Embedded(tmp_path / "data")
    previous = os.umask(0o022)  # the usual one: files readable by everyone unless created otherwise
    try:
        assert embedded.ensure_running(services, postgres=False, redis=True) == ["redis"]
    finally:
        os.umask(previous)
    try:
        assert _mode(services.redis_dir) == 0o700
        assert _mode(services.data_dir / "redis.log") == 0o600
    finally:
        embedded.stop(services)
