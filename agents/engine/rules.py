"""Tool rules, Letta's kinds, as the loop enforces them within one turn.

A rule is a dict as Letta's API spells it: {"tool_name": ..., "type": ...} plus its fields.
- run_first: the turn's first call must be one of these tools.
- exit_loop: calling the tool ends the turn (even with a heartbeat asked for).
- continue_loop: after the tool the agent always goes on (a heartbeat, asked for or not).
- constrain_child_tools: after the tool, only its `children` may be called next.
- parent_last_tool: the tool's `children` may be called only right after it.
- conditional: after the tool, its output picks the next tool (`child_output_mapping`, else
  `default_child`; with `require_output_mapping`, an output not in the mapping allows nothing else).
- max_count_per_step: the tool may be called `max_count_limit` times in one turn.
- required_before_exit: the turn may not end before the tool has been called.

Before each step `allowed` narrows the tools offered to the model; a call that breaks a rule anyway
(a model may call what it was not offered) gets a failed result naming the rule. Every time a rule
acts it says so in a note, which the step's trace keeps.
"""

from dataclasses import dataclass, field

KINDS = ("run_first", "exit_loop", "continue_loop", "constrain_child_tools", "parent_last_tool", "conditional",
         "max_count_per_step", "required_before_exit")


@dataclass
class ToolRules:
    rules: list[dict]
    called: list[tuple[str, str]] = field(default_factory=list)  # this turn's calls: (tool, output)

    def of(self, kind: str) -> list[dict]:
        return [r for r in self.rules if r.get("type") == kind]

    def _next_choices(self) -> tuple[set[str] | None, str]:
        """The tools the last call allows next (None: any), and the rule that says so."""
        if not self.called:
            first = {r["tool_name"] for r in self.of("run_first")}
            return (first, f"run_first: the turn starts with {_names(first)}") if first else (None, "")
        last, output = self.called[-1]
        for rule in self.of("constrain_child_tools"):
            if rule["tool_name"] == last:
                children = set(rule.get("children") or [])
                return children, f"constrain_child_tools: after {last}, only {_names(children)}"
        for rule in self.of("conditional"):
            if rule["tool_name"] == last:
                child = _mapped_child(rule, output)
                if child is not None:
                    return {child}, f"conditional: {last} answered {output[:80]!r}, so {child} is next"
                if rule.get("require_output_mapping"):
                    return set(), f"conditional: {last} answered {output[:80]!r}, which no mapping names"
        return None, ""

    def refusal(self, name: str) -> str | None:
        """Why `name` may not be called now, naming the rule; None if it may."""
        choices, why = self._next_choices()
        if choices is not None and name not in choices:
            return f"Tool rule {why}: {name} may not be called now."
        for rule in self.of("parent_last_tool"):
            parent = rule["tool_name"]
            if name in (rule.get("children") or []) and (not self.called or self.called[-1][0] != parent):
                return f"Tool rule parent_last_tool: {name} may be called only right after {parent}."
        for rule in self.of("max_count_per_step"):
            limit = rule.get("max_count_limit", 1)
            if rule["tool_name"] == name and sum(1 for tool, _ in self.called if tool == name) >= limit:
                return f"Tool rule max_count_per_step: {name} may be called {limit} times in a turn, and it has been."
        return None

    def allowed(self, names: list[str]) -> tuple[list[str], str]:
        """The tools to offer for the next step, and a note when a rule narrowed them."""
        kept = [n for n in names if self.refusal(n) is None]
        if len(kept) == len(names):
            return names, ""
        choices, why = self._next_choices()
        reasons = [why] if choices is not None else []
        reasons += [f"{n} held back ({self.refusal(n).removeprefix('Tool rule ')})" for n in names
                    if n not in kept and (choices is None or n in choices)]
        return kept, "; ".join(r for r in reasons if r)

    def record(self, name: str, output: str) -> None:
        self.called.append((name, output))

    def ends_turn(self, name: str) -> bool:
        return any(r["tool_name"] == name for r in self.of("exit_loop"))

    def continues(self, name: str) -> bool:
        return any(r["tool_name"] == name for r in self.of("continue_loop"))

    def missing_before_exit(self) -> list[str]:
        done = {tool for tool, _ in self.called}
        return [r["tool_name"] for r in self.of("required_before_exit") if r["tool_name"] not in done]


def tools_named(rule: dict) -> list[str]:
    """Every tool a rule names: its own, its children, its conditional children."""
    named = [rule.get("tool_name"), *(rule.get("children") or []), rule.get("default_child"),
             *(rule.get("child_output_mapping") or {}).values()]
    return list(dict.fromkeys(name for name in named if name))


def _names(names: set[str]) -> str:
    return " or ".join(sorted(names)) if names else "no tool"


def _mapped_child(rule: dict, output: str) -> str | None:
    mapping = rule.get("child_output_mapping") or {}
    for value, child in mapping.items():
        if output.strip() == str(value).strip():
            return child
    return rule.get("default_child")
