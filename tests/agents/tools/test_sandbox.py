"""The custom tool sandbox: what a tool can do, what it cannot, and how each failure reads."""

import socket
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from agents.tools.sandbox import BubblewrapSandbox, Limits, SandboxUnavailable, ToolRun, get_sandbox

PROJECT = Path(__file__).resolve().parents[3]


def run(source: str, function: str = "tool", arguments: dict | None = None, **options):
    return BubblewrapSandbox().run(ToolRun(source=source, function=function, arguments=arguments or {}, **options))


def test_a_tool_computes_with_its_arguments_and_returns_a_dict():
    source = "import math\n\ndef area(radius: float) -> dict:\n    return {'area': round(math.pi * radius ** 2, 2)}\n"

    result = run(source, "area", {"radius": 2})

    assert result.ok, result.error
    assert result.value == {"area": 12.57}
    assert result.error is None and result.traceback is None
    assert 0 < result.duration < 5


def test_what_the_tool_prints_is_captured():
    source = "import sys\n\ndef tool(name):\n    print('hello', name)\n    print('careful', file=sys.stderr)\n"

    result = run(source, arguments={"name": "Sam"})

    assert result.ok and result.value is None
    assert result.stdout == "hello Sam\n"
    assert result.stderr == "careful\n"


def test_an_exception_reads_as_one_line_and_a_traceback_of_the_tools_own_frames():
    source = "def ratio(a, b):\n    return a / b\n\n\ndef tool(a, b):\n    return ratio(a, b)\n"

    result = run(source, arguments={"a": 1, "b": 0})

    assert not result.ok and result.value is None
    assert result.error == "ZeroDivisionError: division by zero"
    assert 'File "<tool>", line 6, in tool' in result.traceback
    assert 'File "<tool>", line 2, in ratio' in result.traceback
    assert "return a / b" in result.traceback
    assert "runner" not in result.traceback


def test_source_that_does_not_compile_or_lacks_the_function():
    result = run("def tool(:\n    pass\n")
    assert result.error == "SyntaxError: invalid syntax (<tool>, line 1)"
    assert 'File "<tool>", line 1' in result.traceback and "def tool(:" in result.traceback

    result = run("def helper():\n    pass\n")
    assert result.error == "NameError: the tool's source defines no function named 'tool'"


def test_a_deep_traceback_is_cut_to_its_last_frames():
    chain = "".join(f"def step{n}():\n    return step{n + 1}()\n" for n in range(30))
    result = run(chain + "def step30():\n    raise ValueError('too deep')\n\ndef tool():\n    return step0()\n")

    lines = result.traceback.splitlines()
    assert result.error == "ValueError: too deep"
    assert len(lines) <= 20
    assert lines[1] == "  ..." and "in step30" in result.traceback and lines[-1] == result.error


def test_a_tool_that_never_returns_is_stopped_at_the_wall_clock_limit():
    result = run("import time\n\ndef tool():\n    time.sleep(60)\n", limits=Limits(wall_seconds=1))

    assert not result.ok
    assert result.error == "TimeoutError: the tool ran longer than 1 s (wall clock)"
    assert 1 <= result.duration < 3


def test_a_busy_loop_is_stopped_at_the_cpu_limit():
    result = run("def tool():\n    while True:\n        pass\n", limits=Limits(cpu_seconds=1, wall_seconds=10))

    assert not result.ok
    assert result.error == "TimeoutError: the tool used more than 1 s of CPU time"  # long before 10 s of wall clock


def test_a_busy_loop_that_swallows_the_cpu_warning_is_killed_and_still_reported_as_a_cpu_time_out():
    source = "def tool():\n    while True:\n        try:\n            while True:\n                pass\n" \
             "        except TimeoutError:\n            pass\n"

    result = run(source, limits=Limits(cpu_seconds=1, wall_seconds=10))

    assert not result.ok
    assert result.error == "TimeoutError: the tool used more than 1 s of CPU time"


def test_the_network_is_unreachable():
    listener = socket.create_server(("127.0.0.1", 0))
    listener.setblocking(False)
    port = listener.getsockname()[1]
    source = (
        "import socket\n\ndef tool(port):\n    failures = []\n"
        "    for address in [('127.0.0.1', port), ('1.1.1.1', 53)]:\n"
        "        try:\n            socket.create_connection(address, timeout=2).close()\n"
        "        except OSError as error:\n            failures.append(type(error).__name__)\n"
        "    return failures\n")

    with listener:
        result = run(source, arguments={"port": port})
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody came

    assert result.ok, result.error
    assert len(result.value) == 2  # both connections failed


def test_writes_outside_the_scratch_directory_have_no_effect_outside():
    name = f"pwned-{uuid.uuid4().hex}"
    targets = [PROJECT / name, Path(settings.DATA_DIR) / name, Path("/tmp") / name, Path("/root") / name]
    source = ("def tool(paths):\n    written = []\n    for path in paths:\n        try:\n"
              "            with open(path, 'w') as file:\n                file.write('x')\n"
              "            written.append(path)\n        except OSError:\n            pass\n    return written\n")

    result = run(source, arguments={"paths": [str(path) for path in targets]})

    assert result.ok, result.error
    assert str(PROJECT / name) not in result.value  # the filesystem is read-only there
    assert [path for path in targets if path.exists()] == []


def test_a_file_larger_than_the_limit_cannot_be_written():
    source = "def tool():\n    with open('big', 'wb') as file:\n        file.write(bytes(2 * 1024 * 1024))\n"

    result = run(source, limits=Limits(file_bytes=1024 * 1024))

    assert result.error == "OSError: [Errno 27] File too large"


def test_the_project_and_the_data_directory_are_not_there():
    paths = [str(PROJECT / "manage.py"), str(Path(settings.DATA_DIR) / "secret_key"), str(PROJECT)]
    source = ("import os\n\ndef tool(paths):\n    seen = {}\n    for path in paths:\n        try:\n"
              "            seen[path] = os.listdir(path) if os.path.isdir(path) else open(path).read()\n"
              "        except OSError as error:\n            seen[path] = type(error).__name__\n    return seen\n")

    result = run(source, arguments={"paths": paths})

    assert result.ok, result.error
    assert result.value == {path: "FileNotFoundError" for path in paths}


def test_the_tool_runs_as_nobody_on_the_bare_standard_library():
    source = "import os\n\ndef tool():\n    return os.getuid()\n"
    assert run(source).value == 65534

    result = run("def tool():\n    import django\n")  # the worker's packages are not the tool's

    assert result.error == "ModuleNotFoundError: No module named 'django'"


def test_allocating_gigabytes_is_a_memory_error_not_a_crash():
    source = "def tool():\n    chunks = []\n    while True:\n        chunks.append(bytearray(64 * 1024 * 1024))\n"

    result = run(source, limits=Limits(memory_bytes=256 * 1024 * 1024))

    assert not result.ok
    assert result.error == "MemoryError: the tool ran out of memory (limit 256 MB)"


def test_printing_megabytes_is_cut_at_the_cap_with_a_note():
    result = run("def tool():\n    print('x' * 3_000_000)\n", limits=Limits(output_bytes=64 * 1024))

    assert not result.ok
    assert result.error == "output too large: the tool printed more than 64 KB"
    assert result.stdout.startswith("x" * 1000)
    assert result.stdout.endswith("\n[... cut: more than 64 KB]")
    assert len(result.stdout) < 64 * 1024 + 100


def test_a_huge_return_value_is_refused():
    result = run("def tool():\n    return 'x' * 200_000\n", limits=Limits(output_bytes=64 * 1024))

    assert not result.ok and result.value is None
    assert result.error.startswith("output too large: the return value is 0.2 MB as JSON")


def test_a_missing_module_names_the_module():
    result = run("import no_such_module\n\ndef tool():\n    pass\n")

    assert result.error == "ModuleNotFoundError: No module named 'no_such_module'"
    assert 'File "<tool>", line 1, in <module>' in result.traceback


def test_a_tool_that_kills_itself():
    result = run("import os, signal\n\ndef tool():\n    print('going')\n    os.kill(os.getpid(), signal.SIGKILL)\n")

    assert not result.ok
    assert result.error == "the tool's process was killed (signal 9)"
    assert result.stdout == "going\n"  # printed before it died


def test_sys_exit_and_os_exit():
    result = run("import sys\n\ndef tool():\n    sys.exit(3)\n")
    assert result.error == "SystemExit: the tool called sys.exit(3)"

    result = run("import os\n\ndef tool():\n    os._exit(3)\n")
    assert result.error == "the tool's process exited with status 3 before returning"


def test_a_value_json_cannot_hold_comes_back_as_its_repr():
    result = run("class Point:\n    def __repr__(self):\n        return 'Point(1, 2)'\n\n"
                 "def tool():\n    return {'where': Point()}\n")

    assert result.ok
    assert result.value == "{'where': Point(1, 2)}"


def test_no_variable_of_the_server_reaches_the_tool(monkeypatch):
    monkeypatch.setenv("SECRET_KEY_TEST", "x")

    result = run("import os\n\ndef tool():\n    return dict(os.environ)\n")

    assert result.ok, result.error
    assert "SECRET_KEY_TEST" not in result.value
    assert set(result.value) <= {"PATH", "HOME", "TMPDIR", "LANG", "PYTHONDONTWRITEBYTECODE", "PYTHONIOENCODING", "PWD"}


AGENT_STATE = {"id": "agent-1", "name": "Sam", "blocks": [
    {"label": "human", "value": "Name: Ada", "description": "about the user", "limit": 5000, "read_only": False},
    {"label": "persona", "value": "I am Sam.", "description": None, "limit": 5000, "read_only": True}]}


def test_a_tool_reads_the_agent_state_and_cannot_change_it():
    source = (
        "def tool(agent_state, label):\n    block = agent_state.memory.get_block(label)\n    try:\n"
        "        block.value = 'changed'\n        changed = True\n    except AttributeError:\n        changed = False\n"
        "    return [agent_state.id, agent_state.name, block.value, block.limit, block.read_only, changed,\n"
        "            [b.label for b in agent_state.memory.blocks]]\n")

    result = run(source, arguments={"label": "human"}, agent_state=AGENT_STATE)

    assert result.ok, result.error
    assert result.value == ["agent-1", "Sam", "Name: Ada", 5000, False, False, ["human", "persona"]]


def test_a_missing_block_raises_a_clear_key_error():
    source = "def tool(agent_state):\n    return agent_state.memory.get_block('tasks').value\n"

    result = run(source, agent_state=AGENT_STATE)

    assert not result.ok
    assert result.error == "KeyError: \"no core memory block labelled 'tasks' (the agent has: 'human', 'persona')\""


def test_agent_state_is_given_only_to_a_function_that_asks_for_it():
    result = run("def tool(**arguments):\n    return sorted(arguments)\n", arguments={"a": 1}, agent_state=AGENT_STATE)

    assert result.value == ["a"]


def test_each_call_gets_a_fresh_scratch_directory_removed_afterwards(tmp_path):
    sandbox = BubblewrapSandbox(scratch_root=tmp_path)
    source = ("import os\n\ndef tool():\n    found = os.listdir('.')\n"
              "    open('note.txt', 'w').write('remember')\n    return [os.getcwd(), os.environ['HOME'], found]\n")

    first = sandbox.run(ToolRun(source=source, function="tool", arguments={}))
    second = sandbox.run(ToolRun(source=source, function="tool", arguments={}))

    assert first.ok and second.ok
    assert first.value == second.value == ["/scratch", "/scratch", []]
    assert list(tmp_path.iterdir()) == []


def test_processes_the_tool_leaves_behind_do_not_hold_the_call():
    source = "import os, time\n\ndef tool():\n    if os.fork() == 0:\n        time.sleep(30)\n    return 'parent'\n"

    result = run(source, limits=Limits(wall_seconds=20))

    assert result.value == "parent"
    assert result.duration < 10  # not held until the sleeping child or the wall clock ends


def test_a_machine_without_bubblewrap_says_how_to_install_it(monkeypatch):
    assert isinstance(get_sandbox(), BubblewrapSandbox)
    monkeypatch.setattr(BubblewrapSandbox, "bwrap", "/nonexistent/bwrap")

    with pytest.raises(SandboxUnavailable, match="apt-get install bubblewrap"):
        get_sandbox()
