"""Virtualenvs for custom tools with pip requirements: built once, cached, read-only in the sandbox.

No network: the package is a wheel written here, and the failing requirement is looked up with
pip's --no-index."""

import base64
import hashlib
import sys
import threading
import time
import zipfile
from pathlib import Path

import pytest

from agents.tools.environments import RequirementsError, base_python, environment_for, normalized
from agents.tools.sandbox import BubblewrapSandbox, ToolRun


def make_wheel(directory: Path, name: str = "greeter", version: str = "1.0") -> Path:
    """A minimal pure-python wheel, written by hand (pip wheel would want setuptools from PyPI)."""
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": "def greet(who):\n    return f'hello {who}'\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for path, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,"]) + "\n"
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


@pytest.fixture
def data_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path / "data"
    return settings.DATA_DIR


def test_a_local_wheel_is_installed_once_and_the_tool_imports_it(data_dir, tmp_path):
    requirements = (str(make_wheel(tmp_path)),)

    python = environment_for(requirements)
    began = time.perf_counter()
    again = environment_for(requirements)
    cached_in = time.perf_counter() - began
    result = BubblewrapSandbox().run(ToolRun(
        source="import greeter\n\ndef tool(name):\n    return greeter.greet(name)\n", function="tool",
        arguments={"name": "Sam"}, requirements=requirements))

    assert again == python
    assert python.parent.parent.parent == data_dir / "tool-envs"
    assert cached_in < 0.2  # building it takes about a second
    assert result.ok, (result.error, result.traceback)
    assert result.value == "hello Sam"


def test_the_environment_is_read_only_in_the_sandbox_and_holds_only_its_requirements(data_dir, tmp_path):
    requirements = (str(make_wheel(tmp_path)),)
    source = ("import os, greeter\n\ndef tool():\n    try:\n        open(greeter.__file__, 'a')\n"
              "    except OSError as error:\n        refused = type(error).__name__\n"
              "    try:\n        import django\n    except ImportError:\n        django = None\n"
              "    return [refused, django is None]\n")

    result = BubblewrapSandbox().run(ToolRun(source=source, function="tool", arguments={}, requirements=requirements))

    assert result.value == ["OSError", True], (result.error, result.traceback)


def test_two_workers_asking_at_once_build_one_environment(data_dir, tmp_path):
    requirements = (str(make_wheel(tmp_path)),)
    found = []
    workers = [threading.Thread(target=lambda: found.append(environment_for(requirements))) for _ in range(2)]

    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert len(found) == 2 and found[0] == found[1]
    assert [path.name for path in (data_dir / "tool-envs").iterdir() if not path.name.endswith(".lock")] == \
        [found[0].parent.parent.name]  # no second copy, no leftover build directory


def test_a_requirement_that_cannot_be_installed_says_why(data_dir):
    with pytest.raises(RequirementsError, match="No matching distribution found for no-such-tool-package"):
        environment_for(("no-such-tool-package",), pip_args=("--no-index",))

    assert [path for path in (data_dir / "tool-envs").iterdir() if not path.name.endswith(".lock")] == []


def test_no_requirements_means_the_bare_base_interpreter_not_the_workers():
    python = environment_for(())

    assert python == base_python()
    assert python != Path(sys.executable)
    assert not (python.parent.parent / "pyvenv.cfg").exists()


def test_the_same_set_of_requirements_is_spelled_one_way():
    assert normalized(("Foo_Bar>=1.0", " foo-bar>=1.0 ", "", "requests")) == ("foo-bar>=1.0", "requests")
    assert normalized(("/wheels/Foo_Bar-1.0-py3-none-any.whl",)) == ("/wheels/Foo_Bar-1.0-py3-none-any.whl",)
