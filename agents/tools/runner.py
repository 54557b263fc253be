"""Runs one custom tool call inside the sandbox; started by a separate interpreter, stdlib only.

    python -I -S runner.py RESULT_FD   < call.json

The call comes as JSON on stdin: {"source", "function", "arguments", "agent_state", "result_bytes",
"cpu_seconds", "memory_bytes"}. The outcome goes as one JSON document to RESULT_FD, a pipe of its own.

The runner forks: the child runs the tool and leaves its result in an anonymous memory file; the
runner waits for the child to exit (not for an end of file that a process the tool forked could
hold back), then writes to RESULT_FD, which the child closed before the tool's code ran.
So nothing the tool prints can pass for the result (code that goes looking for the memory file
could write an answer of its own there, which it could as well return), and when the child dies the
runner still reports how: by which signal, and with how much CPU time used (a busy loop killed at
the hard CPU limit reads as a CPU time-out, not as a mysterious SIGKILL; bwrap's own exit status
cannot tell, and its resource usage does not include the sandbox's processes).

Imports are kept few and cheap: interpreter start-up is most of a sandboxed call's cost, and
`json`, `signal` and `linecache` would each add 5-10 ms (they import `re` and `enum`). So JSON goes
through `_json`, the C half of `json` (what json.loads/dumps use underneath), and signals through
`_signal`, the C half of `signal`; `traceback` is imported only when there is one to format.
"""

import os
import sys

import _json
import _signal

FILENAME = "<tool>"
TRACEBACK_LINES = 20


def main() -> None:
    result_fd = int(sys.argv[1])
    call = _loads(sys.stdin.buffer.read().decode())
    handover = os.memfd_create("tool-result")
    child = os.fork()
    if child == 0:
        os.close(result_fd)
        _child(call, handover)
    _, status, usage = os.wait4(child, 0)
    result = os.pread(handover, call["result_bytes"] + 4096, 0)
    if not (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0 and result):
        result = _dumps({"ok": False, "error": _death(status, usage.ru_utime + usage.ru_stime, call["cpu_seconds"]),
                         "traceback": None}).encode()
    with open(result_fd, "wb") as channel:
        channel.write(result)


def _child(call: dict, handover: int) -> None:
    status = 1  # no result: the runner says how the child ended
    try:
        sys.stdin = open(os.devnull)  # noqa: SIM115  (the tool gets an empty stdin, not our call)
        sys.stdout.reconfigure(line_buffering=True)  # what it printed survives if it is killed
        _signal.signal(_signal.SIGXCPU, lambda signum, frame: _cpu_exceeded(call["cpu_seconds"]))
        try:
            outcome = _call(call)
        except BaseException as error:  # noqa: BLE001  (whatever the tool raises is its result)
            outcome = _failure(error, call)
        encoded = _encode(outcome, call["result_bytes"])
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass  # the tool closed it; what it printed is lost, not its result
        os.pwrite(handover, encoded, 0)
        status = 0
    finally:
        os._exit(status)  # not the runner's exit: no atexit of the tool's, no waiting for its threads


def _death(status: int, cpu: float, cpu_seconds: float) -> str:
    """Why the child left no result: one line for the model."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        # past the soft limit the kernel sends SIGXCPU, past the hard one (a second later) SIGKILL
        if number == _signal.SIGXCPU or (number == _signal.SIGKILL and cpu >= cpu_seconds):
            return f"TimeoutError: the tool used more than {cpu_seconds:g} s of CPU time"
        return f"the tool's process was killed (signal {number})"
    return f"the tool's process exited with status {os.WEXITSTATUS(status)} before returning"


def _call(call: dict) -> dict:
    source = call["source"]
    namespace = {"__name__": "__tool__", "__builtins__": __builtins__}
    exec(compile(source, FILENAME, "exec"), namespace)
    function = namespace.get(call["function"])
    if not callable(function):
        raise NameError(f"the tool's source defines no function named {call['function']!r}")
    arguments = dict(call["arguments"])
    if _takes(function, "agent_state"):
        arguments["agent_state"] = _agent_state(call["agent_state"])
    return {"ok": True, "value": function(**arguments)}


def _takes(function, name: str) -> bool:
    # inspect.signature would be clearer, but importing inspect costs more than the rest of the call
    code = getattr(function, "__code__", None)
    if code is None:
        return False
    named = code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]
    return name in named[code.co_posonlyargcount:]


def _cpu_exceeded(seconds: float):
    raise TimeoutError(f"the tool used more than {seconds:g} s of CPU time")


def _failure(error: BaseException, call: dict) -> dict:
    if isinstance(error, SystemExit):
        line = f"SystemExit: the tool called sys.exit({error.code!r})"
    elif isinstance(error, MemoryError):
        line = f"MemoryError: the tool ran out of memory (limit {call['memory_bytes'] / 2**20:g} MB)"
    else:
        try:
            message = str(error).strip().splitlines()
        except BaseException:  # noqa: BLE001  (an exception of the tool's with a broken __str__)
            message = []
        line = type(error).__name__ + (f": {message[0]}" if message else "")
    return {"ok": False, "error": line[:500], "traceback": _traceback(error, call["source"])}


def _traceback(error: BaseException, source: str) -> str | None:
    import linecache
    import traceback

    # registered so that the frames show the tool's own lines
    linecache.cache[FILENAME] = (len(source), None, source.splitlines(True), FILENAME)
    if isinstance(error, SyntaxError) and error.filename == FILENAME:  # where in the source, not a frame
        return "".join(traceback.format_exception_only(type(error), error)).rstrip()
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename == FILENAME]
    if not frames:
        return None
    lines = "".join(traceback.format_list(frames)).splitlines()
    if len(lines) > TRACEBACK_LINES - 2:
        lines = ["  ..."] + lines[-(TRACEBACK_LINES - 3):]
    last = traceback.format_exception_only(type(error), error)[-1].rstrip()
    return "\n".join(["Traceback (most recent call last):", *lines, last])


def _encode(outcome: dict, limit: int) -> bytes:
    if outcome["ok"]:
        try:
            encoded = _dumps(outcome)
        except (TypeError, ValueError, RecursionError):
            outcome = {"ok": True, "value": _repr(outcome["value"], limit)}
            encoded = _dumps(outcome)
        if len(encoded) > limit:
            outcome = {"ok": False, "error": f"output too large: the return value is {len(encoded) / 2**20:.1f} MB"
                                             f" as JSON, the limit is {limit / 2**20:g} MB", "traceback": None}
            encoded = _dumps(outcome)
        return encoded.encode()
    return _dumps(outcome).encode()


class _Decoding:
    """The settings _json's scanner reads from a json.JSONDecoder: those of plain json.loads."""

    strict = True
    object_hook = object_pairs_hook = None
    parse_float, parse_int = float, int
    parse_constant = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}.__getitem__


def _loads(text: str):
    value, end = _json.make_scanner(_Decoding())(text, 0)  # the parent sends compact JSON, nothing around it
    if end != len(text):
        raise ValueError("extra data after the call's JSON")
    return value


def _not_serializable(value):
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _dumps(value) -> str:
    # json.dumps(value) with its defaults; ASCII escapes keep lone surrogates encodable
    encoder = _json.make_encoder({}, _not_serializable, _json.encode_basestring_ascii, None, ": ", ", ",
                                 False, False, True)
    return "".join(encoder(value, 0))


def _repr(value, limit: int) -> str:
    try:
        text = repr(value)
    except BaseException as error:  # noqa: BLE001  (a broken __repr__ is the tool's, not ours)
        text = f"<unrepresentable {type(value).__name__}: {type(error).__name__}>"
    return text if len(text) <= limit else text[: limit - 20] + "... [repr cut]"


class _Frozen:
    """Read-only attributes: the tool sees the agent's state, it cannot change it."""

    __slots__ = ()

    def __setattr__(self, name, value):
        raise AttributeError(f"{type(self).__name__} is read-only in a tool; use the memory tools to change it")

    __delattr__ = __setattr__

    def __repr__(self):
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"


class Block(_Frozen):
    __slots__ = ("label", "value", "description", "limit", "read_only")

    def __init__(self, label, value, description=None, limit=None, read_only=False, **_):
        for name, given in zip(self.__slots__, (label, value, description, limit, read_only)):
            object.__setattr__(self, name, given)


class Memory(_Frozen):
    __slots__ = ("blocks",)

    def __init__(self, blocks):
        object.__setattr__(self, "blocks", tuple(blocks))

    def get_block(self, label: str) -> Block:
        for block in self.blocks:
            if block.label == label:
                return block
        labels = ", ".join(repr(block.label) for block in self.blocks) or "none"
        raise KeyError(f"no core memory block labelled {label!r} (the agent has: {labels})")


class AgentState(_Frozen):
    __slots__ = ("id", "name", "memory")

    def __init__(self, id, name, memory):
        for name_, given in zip(self.__slots__, (id, name, memory)):
            object.__setattr__(self, name_, given)


def _agent_state(state: dict | None) -> AgentState | None:
    if state is None:
        return None
    blocks = [Block(**block) for block in state.get("blocks", ())]
    return AgentState(state.get("id"), state.get("name"), Memory(blocks))


if __name__ == "__main__":
    main()
