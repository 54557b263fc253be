"""The engine's ToolRunner: a custom tool's call, from the engine's types to the sandbox's and back."""

from agents.engine.types import AgentState, ToolRun, ToolSpec
from agents.tools import sandbox
from agents.tools.environments import RequirementsError


def agent_state_of(state: AgentState) -> dict:
    """What a tool that takes `agent_state` may read (Letta's parameter): a copy, so read-only."""
    return {"id": f"agent-{state.agent_id}", "name": state.name,
            "blocks": [{"label": b.label, "value": b.value, "description": b.description, "limit": b.limit,
                        "read_only": b.read_only} for b in state.blocks]}


class SandboxRunner:
    def run(self, tool: ToolSpec, arguments: dict, state: AgentState) -> ToolRun:
        call = sandbox.ToolRun(source=tool.source, function=tool.name, arguments=arguments,
                               agent_state=agent_state_of(state) if tool.takes_agent_state else None,
                               requirements=tool.requirements)
        try:
            result = sandbox.get_sandbox().run(call)
        except (sandbox.SandboxUnavailable, RequirementsError) as error:
            return ToolRun(ok=False, error=str(error))
        return ToolRun(ok=result.ok, value=result.value, stdout=result.stdout, error=result.error or "",
                       traceback=result.traceback or "", duration=result.duration)
