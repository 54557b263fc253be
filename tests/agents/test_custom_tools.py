"""Custom tools in real turns: saved from source, attached, called by the scripted model, run in the
bubblewrap sandbox by the real worker. Whatever a tool does (compute, raise, loop forever, try the
network, write outside its directory, allocate gigabytes, print megabytes, import a missing module),
its call gets one result, the turn goes on, and the agent answers its next message."""

import json

import pytest

from agents.models import Step
from agents.services import agent_create, agent_duplicate, agent_update, tool_attach, tool_create, tool_update, turn_enqueue
from agents.tools.schema import ToolSourceError
from tests.factories import make_user
from tests.fake_llm import tool_call
from tests.helpers import wait_for_runs

pytestmark = pytest.mark.django_db(transaction=True)

TOOLS = {
    "compute": '''
def compute(numbers: list[int]) -> dict:
    """Sum and largest of some numbers.

    Args:
        numbers: The numbers.
    """
    return {"sum": sum(numbers), "max": max(numbers)}
''',
    "explode": '''
def explode(x: int) -> float:
    """Divide by x."""
    return 1 / x
''',
    "spin": '''
def spin() -> None:
    """Never returns."""
    while True:
        pass
''',
    "fetch": '''
def fetch(host: str) -> str:
    """Connect to a host."""
    import socket
    socket.create_connection((host, 80), timeout=2)
    return "connected"
''',
    "escape": '''
def escape(path: str) -> str:
    """Write a file."""
    open(path, "w").write("pwned")
    return "written"
''',
    "hog": '''
def hog() -> int:
    """Take memory."""
    return len(bytearray(4 * 1024**3))
''',
    "chatter": '''
def chatter() -> str:
    """Print a lot."""
    print("x" * 5_000_000)
    return "done"
''',
    "missing": '''
def missing() -> str:
    """Import what is not there."""
    import no_such_module_here
    return "never"
''',
    "peek": '''
def peek(label: str, agent_state: "AgentState") -> str:
    """Read a core memory block.

    Args:
        label: The block's label.
    """
    return agent_state.memory.get_block(label).value
''',
}


def results(agent) -> dict[str, dict]:
    from memory.models import Message

    return {m.name: json.loads(m.content) for m in Message.objects.filter(agent=agent, kind="tool_result")}


def test_each_kind_of_tool_gets_its_result_and_the_agent_answers_its_next_message(llm, celery_worker, tmp_path):
    owner = make_user()
    agent = agent_create(owner=owner, name="Sam", persona="I am Sam.", human="Ada likes chess.")
    for source in TOOLS.values():
        tool_attach(agent=agent, tool=tool_create(owner=owner, source_code=source))
    target = tmp_path / "pwned"
    calls = [("compute", {"numbers": [3, 9, 4]}), ("explode", {"x": 0}), ("spin", {}), ("fetch", {"host": "127.0.0.1"}),
             ("escape", {"path": str(target)}), ("hog", {}), ("chatter", {}), ("missing", {}), ("peek", {"label": "human"})]
    llm.enqueue(*[tool_call(name, {**arguments, "request_heartbeat": True}) for name, arguments in calls],
                tool_call("send_message", {"message": "All tried."}), tool_call("send_message", {"message": "Still here."}))
    agent.max_steps = 20
    agent.save(update_fields=["max_steps"])

    turn_enqueue(agent=agent, text="Try every tool.")
    [run] = wait_for_runs(agent, timeout=120)
    assert (run.status, run.stop_reason) == ("completed", "end_turn")
    got = results(agent)
    assert got["compute"]["status"] == "OK" and json.loads(got["compute"]["message"]) == {"sum": 16, "max": 9}
    assert got["peek"] == {**got["peek"], "status": "OK", "message": "Ada likes chess."}
    for name in ("explode", "spin", "fetch", "escape", "hog", "chatter", "missing"):
        assert got[name]["status"] == "Failed", (name, got[name])
    assert "ZeroDivisionError: division by zero" in got["explode"]["message"]
    assert 'File "<tool>", line 4, in explode' in got["explode"]["message"]
    assert "TimeoutError" in got["spin"]["message"] or "CPU" in got["spin"]["message"]
    assert "ModuleNotFoundError: No module named 'no_such_module_here'" in got["missing"]["message"]
    assert not target.exists()  # nothing outside the tool's own directory
    assert "output" in got["chatter"]["message"]  # over the cap: stopped, not buffered
    assert llm.refused == []

    turn_enqueue(agent=agent, text="Are you there?")
    runs = wait_for_runs(agent, 2)
    assert runs[-1].status == "completed"
    assert [s.request.get("tools") is not None for s in Step.objects.filter(run=runs[-1])] == [True]


def test_bad_source_is_refused_with_its_line_and_a_copy_of_an_agent_keeps_its_tools():
    owner = make_user()
    with pytest.raises(ToolSourceError) as refused:
        tool_create(owner=owner, source_code="def f(x):\n    '''Doc.'''\n    return x\n")
    assert str(refused.value).startswith("line 1: parameter 'x' has no type annotation")
    agent = agent_create(owner=owner, name="Sam", include_base_tools=False)
    tool_attach(agent=agent, tool=tool_create(owner=owner, source_code=TOOLS["compute"]))
    copy = agent_duplicate(agent=agent)
    assert list(copy.tools.values_list("name", flat=True)) == ["compute"]


def test_a_tool_renamed_by_new_source_keeps_its_agents_consistent():
    owner = make_user()
    agent = agent_create(owner=owner, name="Sam")
    compute = tool_create(owner=owner, source_code=TOOLS["compute"])
    tool_attach(agent=agent, tool=compute)
    tool_attach(agent=agent, tool=tool_create(owner=owner, source_code=TOOLS["explode"]))
    renamed = TOOLS["compute"].replace("def compute(", "def explode(")
    with pytest.raises(ValueError, match="Sam has a tool named 'explode' already"):
        tool_update(tool=compute, source_code=renamed)
    agent_update(agent=agent, tool_rules=[{"tool_name": "compute", "type": "exit_loop"}])
    with pytest.raises(ValueError, match="Sam's tool rules name compute: change them before renaming it"):
        tool_update(tool=compute, source_code=TOOLS["compute"].replace("def compute(", "def total("))
    compute.refresh_from_db()
    assert compute.name == "compute"
    agent_update(agent=agent, tool_rules=[])
    assert tool_update(tool=compute, source_code=TOOLS["compute"].replace("def compute(", "def total(")).name == "total"
