"""Custom tools: the overhead of one sandboxed call against calling the same function in process.

    .venv/bin/python bench/tools.py [--calls 200]

Runs a trivial tool (`add`) `calls` times each way, alternating, and prints p50 and p95 of both
and their ratio. The sandboxed call is the whole `Sandbox.run`: scratch directory, prlimit, bwrap
namespaces and mounts, a fresh interpreter with the runner, and the result read back. The target
is under 50 ms at p50. No database, no requirements (the bare base interpreter).
"""

import argparse
import time

from common import percentile, table

SOURCE = "def add(a: int, b: int) -> int:\n    return a + b\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    args = parser.parse_args()

    import django

    django.setup()
    from agents.tools.sandbox import ToolRun, get_sandbox

    sandbox = get_sandbox()
    call = ToolRun(source=SOURCE, function="add", arguments={"a": 2, "b": 3})
    namespace: dict = {}
    exec(compile(SOURCE, "<tool>", "exec"), namespace)
    add = namespace["add"]

    sandboxed, in_process = [], []
    for _ in range(args.calls):
        began = time.perf_counter()
        result = sandbox.run(call)
        sandboxed.append((time.perf_counter() - began) * 1000)
        assert result.ok and result.value == 5, result

        began = time.perf_counter()
        value = add(**call.arguments)
        in_process.append((time.perf_counter() - began) * 1000)
        assert value == 5

    rows = [[name, f"{percentile(times, 0.5):.3f}", f"{percentile(times, 0.95):.3f}"]
            for name, times in (("sandboxed", sandboxed), ("in process", in_process))]
    print(f"{args.calls} calls of add(2, 3)")
    print(table(["call", "p50 ms", "p95 ms"], rows))
    ratio = percentile(sandboxed, 0.5) / max(percentile(in_process, 0.5), 1e-9)
    print(f"sandboxed / in process at p50: {ratio:,.0f}x")
    verdict = "meets" if percentile(sandboxed, 0.5) < 50 else "MISSES"
    print(f"sandboxed p50 {verdict} the 50 ms target")


if __name__ == "__main__":
    main()
