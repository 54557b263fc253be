"""Python environments for custom tools: the bare base interpreter, or a cached virtualenv per set of
pip requirements under `<DATA_DIR>/tool-envs/<hash>/`.

Never the worker's own interpreter: `sys.executable` is the project's venv and sees its packages.
"""

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from django.conf import settings

# Wheels only: building an sdist runs its setup code, here outside any sandbox.
PIP_DEFAULTS = ("--only-binary=:all:", "--disable-pip-version-check", "--no-input", "--no-cache-dir")
PIP_TIMEOUT = 600
ERROR_LINES = 6
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(?=\s*(\[|[<>=!~;@ ]|$))")


class RequirementsError(Exception):
    """The requirements could not be installed; the message ends with pip's last lines."""


def base_python() -> Path:
    """The interpreter the project's venv was made from: the standard library and nothing else."""
    return Path(getattr(sys, "_base_executable", None) or Path(sys.base_prefix) / "bin" / "python3")


def environment_for(requirements: tuple[str, ...], *, pip_args: tuple[str, ...] = ()) -> Path:
    """The python executable to run a tool with these requirements, built on first use.

    `pip_args` go to `pip install` before the requirements, e.g. ("--no-index", "--find-links", dir)
    to install from local wheels. They say where to fetch from, not what: not part of the cache key,
    so the sandbox, which passes none, finds an environment built with them.
    """
    wanted = normalized(requirements)
    if not wanted:
        return base_python()
    root = Path(settings.DATA_DIR) / "tool-envs"
    key = _key(wanted)
    home = root / key
    python = home / "bin" / "python"
    if python.exists():
        return python
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another worker may be building the same one
        if not python.exists():
            shutil.rmtree(home, ignore_errors=True)  # left half-made by an older version or by hand
            _build(home, wanted, pip_args)
    return python


def normalized(requirements: tuple[str, ...]) -> tuple[str, ...]:
    """Sorted, without duplicates, names spelled as pip compares them ("Foo_Bar" is "foo-bar"), so
    that the same set finds the same environment. Paths and URLs are left as they are."""
    seen = set()
    for text in requirements:
        text = " ".join(text.split())
        if text.endswith((".whl", ".zip", ".tar.gz")):
            seen.add(text)  # a file: its name is not a project name
        elif text:
            seen.add(NAME.sub(lambda match: re.sub(r"[-_.]+", "-", match[0]).lower(), text, count=1))
    return tuple(sorted(seen))


def _key(requirements: tuple[str, ...]) -> str:
    interpreter = f"{sys.version_info.major}.{sys.version_info.minor} {base_python()}"
    text = "\n".join([interpreter, *requirements])
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def _build(home: Path, requirements: tuple[str, ...], pip_args: tuple[str, ...]) -> None:
    """Build in a temporary directory beside `home`, then rename it into place: a reader sees a
    complete environment or none."""
    building = Path(tempfile.mkdtemp(prefix=f".{home.name}-", dir=home.parent))
    env = {"PATH": os.defpath, "HOME": str(building), "LANG": "C.UTF-8", "PIP_NO_COLOR": "1"}
    for name in ("http_proxy", "https_proxy", "no_proxy", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
                 "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"):
        if name in os.environ:  # how this machine reaches PyPI, and nothing else of the server's
            env[name] = os.environ[name]
    try:
        _run([str(base_python()), "-I", "-m", "venv", "--without-pip", str(building)], env)
        # the base interpreter's pip installs into the new venv, which so needs no pip of its own
        _run([str(base_python()), "-I", "-m", "pip", "--python", str(building / "bin" / "python"), "install",
              *PIP_DEFAULTS, *pip_args, *requirements], env, what=", ".join(requirements))
        os.rename(building, home)
    finally:
        shutil.rmtree(building, ignore_errors=True)


def _run(command: list[str], env: dict, what: str = "") -> None:
    try:
        done = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=PIP_TIMEOUT)
    except subprocess.TimeoutExpired as error:
        raise RequirementsError(f"installing {what or command[3]} took longer than {PIP_TIMEOUT} s") from error
    if done.returncode:
        lines = [line for line in done.stdout.decode(errors="replace").splitlines() if line.strip()]
        tail = "\n".join(lines[-ERROR_LINES:])
        raise RequirementsError(f"could not install {what or command[3]}:\n{tail}")
