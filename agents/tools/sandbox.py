"""The sandbox that runs custom tools: every call in a fresh process outside the worker, behind one
small interface (`Sandbox.run`) so that another runner can replace bubblewrap later.

What a call gets (BubblewrapSandbox): its own user, pid, network (none), ipc and uts namespaces, as
uid 65534; read-only /usr and the Python installation (and the tool's virtualenv, if it has
requirements); a fresh scratch directory as cwd and HOME, a small /tmp, and nothing else of the
host: not the project, not the data directory. A minimal environment, no server variables.
Resource limits (CPU, address space, file size, open files, processes) are set by `prlimit` before
bwrap starts, so they hold inside; the wall clock and the output caps are enforced here.
"""

import functools
import importlib.util
import json
import marshal
import math
import os
import selectors
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from agents.tools.environments import RequirementsError, base_python, environment_for

__all__ = ["Limits", "ToolRun", "ToolResult", "Sandbox", "SandboxUnavailable", "RequirementsError",
           "BubblewrapSandbox", "get_sandbox"]

RUNNER = Path(__file__).with_name("runner.py")


@functools.cache
def runner_bytecode() -> bytes:
    """runner.py as a .pyc, compiled once per worker: the sandbox cannot keep a bytecode cache, and
    compiling the runner anew would cost each call 4 ms. (The tool's interpreter is the base one
    this process's venv was made from, so the same Python version reads it.)"""
    source = RUNNER.read_bytes()
    code = compile(source, str(RUNNER), "exec", dont_inherit=True)
    # PEP 552 header: hash-based and unchecked, as nothing beside it could be checked anyway
    return importlib.util.MAGIC_NUMBER + (1).to_bytes(4, "little") + importlib.util.source_hash(source) + \
        marshal.dumps(code)


@dataclass(frozen=True)
class Limits:
    cpu_seconds: float = 5.0
    memory_bytes: int = 512 * 1024 * 1024  # address space
    wall_seconds: float = 10.0
    output_bytes: int = 1024 * 1024  # stdout+stderr and the result, each capped
    file_bytes: int = 16 * 1024 * 1024  # largest file it may write (RLIMIT_FSIZE)


@dataclass(frozen=True)
class ToolRun:
    source: str  # one top-level function, with whatever imports and helpers it needs around it
    function: str
    arguments: dict
    agent_state: dict | None = None  # passed only if the function has an `agent_state` parameter
    requirements: tuple[str, ...] = ()
    limits: Limits = Limits()


@dataclass(frozen=True)
class ToolResult:
    ok: bool
    value: Any  # the return value if JSON-serializable, else its repr(); None on failure
    stdout: str
    stderr: str
    error: str | None  # one line a model can read
    traceback: str | None  # only the frames of the tool's own source ("<tool>")
    duration: float


class Sandbox(Protocol):
    def run(self, call: ToolRun) -> ToolResult: ...


class SandboxUnavailable(Exception):
    """The sandbox cannot run anything on this machine (as opposed to a tool failing in it)."""


class BubblewrapSandbox:
    bwrap = "/usr/bin/bwrap"
    prlimit = "/usr/bin/prlimit"
    open_files = 256
    # RLIMIT_NPROC counts every process of the worker's real user, so it is a ceiling against fork
    # bombs, not a quota; the kernel does not apply it to a worker running as root.
    processes = 256
    tmp_bytes = 64 * 1024 * 1024
    uid = 65534  # nobody
    scratch = "/scratch"
    runner = "/opt/tool/runner.pyc"

    def __init__(self, *, scratch_root: Path | None = None):
        """`scratch_root`: where the per-call directories are made (default: the system's temp dir)."""
        for path, package in ((self.bwrap, "bubblewrap"), (self.prlimit, "util-linux")):
            if not os.access(path, os.X_OK):
                raise SandboxUnavailable(f"{path} is missing, custom tools cannot run: apt-get install {package}")
        self.scratch_root = scratch_root

    def run(self, call: ToolRun) -> ToolResult:
        python = environment_for(call.requirements)
        started = time.monotonic()
        work = Path(tempfile.mkdtemp(prefix="tool-", dir=self.scratch_root))
        try:
            (work / "scratch").mkdir()
            (work / "runner.pyc").write_bytes(runner_bytecode())
            outcome = self._execute(call, python, work)
        finally:
            _remove(work)
        return _result(call.limits, outcome, time.monotonic() - started)

    def _command(self, limits: Limits, python: Path, work: Path, result_fd: int) -> list[str]:
        cpu = max(1, math.ceil(limits.cpu_seconds))
        rlimits = [f"--cpu={cpu}:{cpu + 1}",  # SIGXCPU at the soft limit, which the runner reports; SIGKILL 1 s on
                   f"--as={limits.memory_bytes}", f"--fsize={limits.file_bytes}",
                   f"--nofile={self.open_files}", f"--nproc={self.processes}"]
        binds = ["--ro-bind", "/usr", "/usr"]
        for top in ("/bin", "/sbin", "/lib", "/lib64", "/lib32"):
            if os.path.islink(top):  # merged /usr: the links, not more binds
                binds += ["--symlink", os.readlink(top), top]
            elif os.path.isdir(top):
                binds += ["--ro-bind", top, top]
        binds += ["--ro-bind-try", "/etc/ld.so.cache", "/etc/ld.so.cache"]
        bound = ["/usr"]
        for tree in (Path(base_python()).resolve().parent.parent, python.parent.parent):
            if not any(str(tree).startswith(prefix + "/") or str(tree) == prefix for prefix in bound):
                binds += ["--ro-bind", str(tree), str(tree)]
                bound.append(str(tree))
        environment = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": self.scratch, "TMPDIR": "/tmp",
                       "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONIOENCODING": "utf-8"}
        setenv = [part for name, value in environment.items() for part in ("--setenv", name, value)]
        interpreter = [str(python), "-I"] + ([] if _is_venv(python) else ["-S"])
        return [
            self.prlimit, *rlimits, "--",
            self.bwrap, "--unshare-all", "--unshare-user", "--disable-userns",
            "--uid", str(self.uid), "--gid", str(self.uid), "--hostname", "tool", "--die-with-parent", "--new-session",
            # /tmp first: mounted later it would hide a virtualenv that lives under the host's /tmp
            "--proc", "/proc", "--dev", "/dev", "--size", str(self.tmp_bytes), "--tmpfs", "/tmp",
            *binds,
            "--ro-bind", str(work / "runner.pyc"), self.runner,
            "--bind", str(work / "scratch"), self.scratch, "--chdir", self.scratch,
            "--remount-ro", "/",
            "--clearenv", *setenv,
            *interpreter, self.runner, str(result_fd),
        ]

    def _execute(self, call: ToolRun, python: Path, work: Path) -> "_Outcome":
        limits = call.limits
        message = json.dumps({"source": call.source, "function": call.function, "arguments": call.arguments,
                              "agent_state": call.agent_state, "result_bytes": limits.output_bytes,
                              "cpu_seconds": limits.cpu_seconds, "memory_bytes": limits.memory_bytes}).encode()
        result_read, result_write = os.pipe()
        try:
            process = _spawn(self._command(limits, python, work, result_write), result_write)
        finally:
            os.close(result_write)
        return _collect(process, message, result_read, limits)


def _is_venv(python: Path) -> bool:
    # a tool's virtualenv needs site to find its packages; the bare interpreter runs without it
    return (python.parent.parent / "pyvenv.cfg").exists()


class _Process:
    def __init__(self, popen, stdin: int, stdout: int, stderr: int):
        self.popen, self.stdin, self.stdout, self.stderr = popen, stdin, stdout, stderr


def _spawn(command: list[str], result_write: int) -> _Process:
    """Start it without preexec_fn (unsafe in a threaded worker): prlimit applies the limits."""
    import subprocess

    stdin, stdout, stderr = os.pipe(), os.pipe(), os.pipe()
    try:
        popen = subprocess.Popen(command, stdin=stdin[0], stdout=stdout[1], stderr=stderr[1],
                                 pass_fds=(result_write,), start_new_session=True, env={"PATH": "/usr/bin:/bin"})
    except BaseException:
        for fd in (stdin[1], stdout[0], stderr[0]):
            os.close(fd)
        raise
    finally:
        for fd in (stdin[0], stdout[1], stderr[1]):
            os.close(fd)
    return _Process(popen, stdin[1], stdout[0], stderr[0])


@dataclass
class _Outcome:
    stdout: bytearray = field(default_factory=bytearray)
    stderr: bytearray = field(default_factory=bytearray)
    result: bytearray = field(default_factory=bytearray)
    overflow: str | None = None  # which of the three went over its cap
    timed_out: bool = False
    status: int = 0  # Popen.returncode of bwrap


def _collect(process: _Process, message: bytes, result_read: int, limits: Limits) -> _Outcome:
    """Feed the call in, read the three outputs as they come, each up to its cap, until the process
    is gone or the wall clock runs out; then make sure it is gone."""
    outcome = _Outcome()
    deadline = time.monotonic() + limits.wall_seconds
    outputs = {process.stdout: outcome.stdout, process.stderr: outcome.stderr, result_read: outcome.result}
    names = {process.stdout: "stdout", process.stderr: "stderr", result_read: "result"}
    unclosed = {process.stdin, *outputs}  # each closed once: a number closed twice may be another thread's
    selector = selectors.DefaultSelector()
    try:
        exited = os.pidfd_open(process.popen.pid)
        unclosed.add(exited)
        selector.register(exited, selectors.EVENT_READ)
        os.set_blocking(process.stdin, False)
        selector.register(process.stdin, selectors.EVENT_WRITE)
        for fd in outputs:
            selector.register(fd, selectors.EVENT_READ)
        while exited in selector.get_map() or any(fd in selector.get_map() for fd in outputs):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                outcome.timed_out = True
                break
            for key, _ in selector.select(remaining):
                fd = key.fd
                if fd == process.stdin:
                    try:
                        message = message[os.write(fd, message[:65536]):]
                    except BrokenPipeError:
                        message = b""
                    if not message:
                        selector.unregister(fd)
                        _close(fd, unclosed)
                elif fd == exited:
                    selector.unregister(fd)  # its outputs are drained next: all their writers are gone
                else:
                    data = os.read(fd, 65536)
                    if not data:
                        selector.unregister(fd)
                    outputs[fd] += data
                    if len(outputs[fd]) > limits.output_bytes:
                        outcome.overflow = names[fd]
            if outcome.overflow:
                break
    finally:
        _kill(process.popen.pid)
        outcome.status = process.popen.wait()
        selector.close()
        for fd in list(unclosed):
            _close(fd, unclosed)
    return outcome


def _close(fd: int, unclosed: set) -> None:
    unclosed.discard(fd)
    os.close(fd)


def _kill(pid: int) -> None:
    # bwrap's own group; the sandboxed processes die with it (--die-with-parent, pid namespace)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _result(limits: Limits, outcome: _Outcome, duration: float) -> ToolResult:
    cap = limits.output_bytes
    stdout, stderr = _text(outcome.stdout, cap), _text(outcome.stderr, cap)
    try:
        reported = json.loads(outcome.result) if outcome.result else None
    except ValueError:
        reported = None
    if not isinstance(reported, dict):
        reported = None
    error = None
    if outcome.overflow:
        what = {"stdout": "printed", "stderr": "wrote to stderr", "result": "returned"}[outcome.overflow]
        error = f"output too large: the tool {what} more than {_size(cap)}"
    elif reported is None:
        error = _why_no_result(limits, outcome)
    if error or not reported.get("ok"):
        return ToolResult(ok=False, value=None, stdout=stdout, stderr=stderr,
                          error=error or reported.get("error"), traceback=None if error else reported.get("traceback"),
                          duration=duration)
    return ToolResult(ok=True, value=reported.get("value"), stdout=stdout, stderr=stderr, error=None,
                      traceback=None, duration=duration)


def _why_no_result(limits: Limits, outcome: _Outcome) -> str:
    if outcome.timed_out:
        return f"TimeoutError: the tool ran longer than {limits.wall_seconds:g} s (wall clock)"
    # The runner reports its child's death itself; this is the runner dead (killed by the tool?).
    status = outcome.status
    # bwrap passes a signalled child on as 128 + signal; a negative status is bwrap itself killed
    number = -status if status < 0 else status - 128 if status > 128 else 0
    if number:
        return f"the tool's process was killed (signal {number})"
    if outcome.stderr.startswith(b"bwrap: "):
        raise SandboxUnavailable(f"the sandbox could not start: {outcome.stderr.decode(errors='replace').strip()}")
    return f"the tool's process exited with status {status} before returning"


def _text(data: bytes, cap: int) -> str:
    if len(data) <= cap:
        return data.decode(errors="replace")
    return data[:cap].decode(errors="replace") + f"\n[... cut: more than {_size(cap)}]"


def _size(count: int) -> str:
    return f"{count / 2**20:g} MB" if count >= 2**20 else f"{count / 2**10:g} KB"


def _remove(path: Path) -> None:
    def writable_and_retry(function, name, _):
        # a tool may leave a directory without write permission; as the file's owner we may grant it
        try:
            os.chmod(os.path.dirname(name), 0o700)
            function(name)
        except OSError:
            pass  # a leftover in the temp dir is no reason to lose the tool's result

    shutil.rmtree(path, onerror=writable_and_retry)


SANDBOXES = {"bubblewrap": BubblewrapSandbox}


def get_sandbox() -> Sandbox:
    """The configured sandbox: settings.TOOL_SANDBOX names one of SANDBOXES (default bubblewrap)."""
    from django.conf import settings

    return SANDBOXES[getattr(settings, "TOOL_SANDBOX", "bubblewrap")]()
