"""A turn pinned as a test: a scenario file holds the agent as it was just before a run, the run's
event, the model's answers as the trace recorded them, and what the turn did (tool calls, new
messages, core memory, archival passages, how it stopped). `scenario_replay` makes a scratch agent
from it, has the scripted model server (agents.llm.scripted) answer as the model did, runs the turn
with the real services and names every way the outcome differs: a change in the loop, the tools or
the memory code shows up as a difference, not as a different model answer.

Not pinned: the documents of folders attached to the agent (their passages are the folders', not the
agent's), and the embedding server: the scratch agent embeds with the embedding model as this
playground configures it (tests: the bundled local model)."""

import dataclasses
import json
import re
import time
import uuid
from datetime import datetime
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model

from agents.engine import prompts, snapshot
from agents.errors import ScenarioInvalid, ScenarioUnavailable
from agents.history.fork import blocks_restore, step_state
from agents.llm.scripted import Call, FakeLLM, Response
from agents.models import RUN_UNFINISHED, Agent, Run, Tool
from memory import services as memory_services
from memory.models import BlockRevision, Message, Passage

FORMAT, VERSION = "memgpt-playground-scenario", 1
# the events a scratch agent can be given again as they were; another agent's message, a group's, a
# `continue` or a login (its text names the agent's last activity) depend on more than the file holds
TRIGGERS = (Run.Trigger.USER_MESSAGE, Run.Trigger.HEARTBEAT, Run.Trigger.MEMORY_WARNING)
SETTINGS = ("system", "model", "temperature", "context_window", "completion_reserve", "warning_share", "evict_share",
            "max_steps", "tool_rules", "heartbeat_fallback")
SERVER = "scenario"  # the scratch user's model server, which the scratch agent's model handle names
PROVIDER_ERROR = re.compile(r"^LLM server returned (\d{3}): (.*)$", re.S)
# times in message texts (packed events, tool results, search hits) differ on every run
TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?: ?[AP]M)?(?: ?(?:UTC|GMT|Z))?(?:[+-]\d{2}:?\d{2})?")


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def dumps(scenario: dict) -> str:
    """A scenario as its file holds it: indented, key order as built, one newline at the end."""
    return json.dumps(scenario, indent=2, ensure_ascii=False) + "\n"


# --- export ---------------------------------------------------------------------------------------


def pin_refusal(run: Run, steps: list) -> str:
    """Why the run (with its steps, in order) cannot be pinned; "" when it can, if its first step keeps state."""
    if run.status in RUN_UNFINISHED:
        return f"Run {run.pk} is {run.status}: only a finished turn can be pinned."
    if run.trigger not in TRIGGERS:
        return f"Run {run.pk} was started by {run.trigger}; a scenario replays only {', '.join(TRIGGERS)} turns."
    if not steps:
        return f"Run {run.pk} made no LLM call: there is nothing to replay."
    return ""


def scenario_export(*, run: Run) -> dict:
    """The run as a scenario (format version 1). ScenarioUnavailable for a run not finished, without an
    LLM call or with a trigger a scenario cannot replay; HistoryMissing when its first step keeps no state."""
    steps = list(run.steps.order_by("index"))
    if refused := pin_refusal(run, steps):
        raise ScenarioUnavailable(refused)
    state = step_state(steps[0])
    agent = run.agent
    return {
        "format": FORMAT,
        "version": VERSION,
        "name": f"{agent.name}, run {run.pk}",
        "pinned_from": {"agent": agent.name, "run_id": run.pk, "steps": len(steps)},
        "agent": _starting_agent(run, state),
        "input": {"trigger": run.trigger, "text": run.input},
        "responses": [_response(step, steps[i + 1:]) for i, step in enumerate(steps)],
        "expect": _effects(run, blocks=_blocks_after(run, state)),
    }


def _starting_agent(run: Run, state: dict) -> dict:
    """The agent just before the run's event: the first step's state without what the run itself
    stored before that step (its event, a memory warning)."""
    whereabouts = state["agent"]
    before = Message.objects.filter(agent_id=run.agent_id, id__lte=state["last_message_id"] or 0)
    own = list(before.filter(run=run))
    window = set(snapshot.window_ids(state))
    warned_now = any(m.kind == Message.Kind.SYSTEM_ALERT and m.text == prompts.MEMORY_WARNING for m in own)
    passages = Passage.objects.filter(agent_id=run.agent_id, id__lte=state["last_passage_id"] or 0)
    return {
        "settings": {**{name: state[name] for name in SETTINGS}, "tool_protocol": whereabouts["tool_protocol"],
                     "embedding_model": whereabouts["embedding_model"]},
        "blocks": [{key: block[key] for key in ("label", "value", "limit", "description", "read_only")}
                   for block in state["blocks"]],
        "tools": _tools(state),
        # the run's own warning set this just before its first step: the agent had not been warned
        "memory_warning_sent": state["memory_warning_sent"] and not warned_now,
        "memory_edited_at": state["memory_edited_at"],
        "messages": [{"role": m.role, "kind": m.kind, "content": m.content, "text": m.text, "tool_calls": m.tool_calls,
                      "tool_call_id": m.tool_call_id, "name": m.name, "created_at": _iso(m.created_at),
                      "in_context": m.pk in window} for m in before.exclude(run=run).order_by("id")],
        "passages": [{"text": p.text, "tags": p.tags, "created_at": _iso(p.created_at)} for p in passages.order_by("id")],
    }


def _tools(state: dict) -> list[dict]:
    """The agent's tools at the first step, built-ins by name, custom ones with their code (as it is now)."""
    rows = {tool.name: tool for tool in Tool.objects.filter(pk__in=state["agent"]["tool_ids"])}
    names = state["tools"] if state["tools"] is not None else sorted(rows)
    tools = []
    for name in names:
        tool = rows.get(name)
        if tool is None:
            raise ScenarioUnavailable(f"The tool {name} was deleted since the run: its code cannot be pinned.")
        if tool.kind == Tool.Kind.BUILTIN:
            tools.append({"name": name, "kind": "builtin"})
        else:
            tools.append({"name": name, "kind": "custom", "source_code": tool.source_code,
                          "description": tool.description, "return_char_limit": tool.return_char_limit,
                          "pip_requirements": tool.pip_requirements})
    return tools


def _arguments(raw: str) -> Any:
    """A call's arguments as JSON where they read back byte for byte so, else the string the model sent."""
    try:
        parsed = json.loads(raw)
    except ValueError:
        return raw
    return parsed if json.dumps(parsed) == raw else raw


def _response(step, later: list) -> dict:
    """What the model answered at the step, as the scripted server can answer it again."""
    if step.response is None:
        match = PROVIDER_ERROR.match(step.error or "")
        # an error the loop took up again was retryable: a 503 stands for a lost connection or a time-out
        status, message = (int(match[1]), match[2]) if match else (503 if later else 400, step.error)
        return {"purpose": step.purpose, "error": {"status": status, "message": message}}
    message = step.response["choices"][0]["message"]
    calls = [{"id": c["id"], "name": c["function"]["name"], "arguments": _arguments(c["function"]["arguments"])}
             for c in message.get("tool_calls") or []]
    return {"purpose": step.purpose, "content": message.get("content"), "tool_calls": calls, "usage": step.usage}


def _blocks_after(run: Run, state: dict) -> dict[str, str]:
    """Core memory at the end of the run: the first step's blocks with the run's own edits applied."""
    values = {block["label"]: block["value"] for block in state["blocks"]}
    labels = {block["id"]: block["label"] for block in state["blocks"]}
    for revision in BlockRevision.objects.filter(step__run=run, block_id__in=labels).order_by("id"):
        if "value" in revision.after:
            values[labels[revision.block_id]] = revision.after["value"]
    return values


def _effects(run: Run, *, blocks: dict[str, str]) -> dict:
    """What a turn did, in the terms a scenario compares (export and replay alike)."""
    indexes = dict(run.steps.values_list("pk", "index"))
    messages = list(Message.objects.filter(run=run).order_by("id"))
    calls = [{"step": indexes.get(m.step_id), "name": c["function"]["name"],
              "arguments": _parsed(c["function"]["arguments"])}
             for m in messages for c in m.tool_calls or []]
    return {
        "tool_calls": calls,
        "messages": [_message_effect(m) for m in messages],
        "blocks": blocks,
        "passages_added": list(Passage.objects.filter(step__run=run).order_by("id").values_list("text", flat=True)),
        "stop_reason": run.stop_reason,
        "status": run.status,
    }


def _message_effect(message: Message) -> dict:
    effect = {"role": message.role, "kind": message.kind, "text": message.text}
    if message.kind == Message.Kind.TOOL_RESULT:  # a success and a failure may read alike ("" or a sentence)
        result = _parsed(message.content)
        effect["status"] = result.get("status") if isinstance(result, dict) else None
    return effect


def _parsed(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


# --- replay ---------------------------------------------------------------------------------------


@dataclasses.dataclass
class Report:
    name: str
    differences: list[str]

    @property
    def ok(self) -> bool:
        return not self.differences

    def text(self, *, title: str | None = None) -> str:
        lines = [f"{'PASS' if self.ok else 'FAIL'} {title or self.name}"]
        return "\n".join(lines + [f"  - {difference}" for difference in self.differences])


def scenario_check(scenario: Any) -> dict:
    """The scenario, if it is one this code reads; ScenarioInvalid saying what is wrong otherwise."""
    if not isinstance(scenario, dict) or scenario.get("format") != FORMAT:
        raise ScenarioInvalid(f"not a scenario: its \"format\" is not {FORMAT!r}")
    if scenario.get("version") != VERSION:
        raise ScenarioInvalid(f"scenario version {scenario.get('version')!r}; this playground reads version {VERSION}")
    missing = [key for key, kind in (("agent", dict), ("input", dict), ("responses", list), ("expect", dict))
               if not isinstance(scenario.get(key), kind)]
    if missing:
        raise ScenarioInvalid(f"the scenario has no {', '.join(missing)}")
    if scenario["input"].get("trigger") not in TRIGGERS:
        raise ScenarioInvalid(f"the scenario's trigger {scenario['input'].get('trigger')!r} is not one of "
                              f"{', '.join(TRIGGERS)}")
    return scenario


def scenario_replay(scenario: dict, *, llm_base_url: str | None = None) -> Report:
    """Run the scenario's turn on a scratch agent (of a scratch user, deleted afterwards) against the
    scripted model server, started here with the recorded answers (or the server at `llm_base_url`),
    and compare what the turn did with what the scenario expects."""
    scenario_check(scenario)
    server = None
    if llm_base_url is None:
        server = FakeLLM().start()
        server.enqueue(*[_scripted(response) for response in scenario["responses"]])
    owner = get_user_model().objects.create(username=f"scenario-{uuid.uuid4().hex[:16]}", is_active=False)
    try:
        try:
            agent = _scratch_agent(scenario, owner=owner, base_url=llm_base_url or server.base_url)
        except (KeyError, TypeError, ValueError) as error:  # a hand-edited file, say
            raise ScenarioInvalid(f"the scenario's agent cannot be made: {type(error).__name__}: {error}") from error
        differences = _replayed_differences(scenario, agent)
        if server is not None:
            differences += _asked_differences(server, len(scenario["responses"]))
    finally:
        _scratch_delete(owner)
        if server is not None:
            server.stop()
    return Report(scenario.get("name") or "scenario", differences)


def _scripted(response: dict) -> Response:
    if "error" in response:
        error = response["error"]
        return Response(status=error["status"], error={"message": error["message"], "type": None, "code": None,
                                                       "param": None})
    calls = tuple(Call(name=c["name"], id=c["id"], arguments=c["arguments"] if isinstance(c["arguments"], str)
                       else json.dumps(c["arguments"])) for c in response.get("tool_calls") or [])
    return Response(content=response.get("content"), calls=calls, usage=response.get("usage"))


def _scratch_agent(scenario: dict, *, owner, base_url: str) -> Agent:
    """An agent as the scenario starts, whose model is served by the server at `base_url`."""
    from agents.services import model_server_create, tool_create

    start, fields = scenario["agent"], scenario["agent"]["settings"]
    model_server_create(owner=owner, name=SERVER, base_url=base_url)
    edited = start.get("memory_edited_at")
    agent = Agent.objects.create(
        owner=owner, name=scenario.get("pinned_from", {}).get("agent") or "scenario",
        **{name: fields[name] for name in SETTINGS if name != "model"}, model=f"{SERVER}/{fields['model']}",
        tool_protocol=fields["tool_protocol"], embedding_model=fields["embedding_model"],
        memory_warning_sent=start["memory_warning_sent"], memory_edited_at=datetime.fromisoformat(edited) if edited else None)
    builtin = Tool.objects.filter(kind=Tool.Kind.BUILTIN, name__in=[t["name"] for t in start["tools"] if t["kind"] == "builtin"])
    custom = [tool_create(owner=owner, source_code=t["source_code"], description=t.get("description") or None,
                          return_char_limit=t.get("return_char_limit", 6000), pip_requirements=t.get("pip_requirements"))
              for t in start["tools"] if t["kind"] == "custom"]
    agent.tools.set([*builtin, *custom])
    blocks_restore(agent, {"blocks": [{**block, "id": None} for block in start["blocks"]]})
    _recall_restore(agent, start["messages"])
    _archival_restore(agent, start["passages"])
    return agent


def _recall_restore(agent: Agent, messages: list[dict]) -> None:
    rows = memory_services.messages_append(
        agent_id=agent.pk, owner_id=agent.owner_id, embed=False,
        messages=[{key: m[key] for key in ("role", "kind", "content", "text", "tool_calls", "tool_call_id", "name",
                                            "in_context")} for m in messages])
    for row, message in zip(rows, messages):  # created_at is set on insert; recall search by date reads it
        row.created_at = datetime.fromisoformat(message["created_at"])
    Message.objects.bulk_update(rows, ["created_at"])
    memory_services.messages_embed(message_ids=[row.pk for row in rows if row.kind in (
        Message.Kind.USER_MESSAGE, Message.Kind.ASSISTANT) and row.text])  # as the worker would have by now


def _archival_restore(agent: Agent, passages: list[dict]) -> None:
    rows = [memory_services.passage_insert(owner_id=agent.owner_id, agent_id=agent.pk, text=p["text"], tags=p["tags"],
                                           embedding_model=agent.embedding_model) for p in passages]
    for row, passage in zip(rows, passages):
        row.created_at = datetime.fromisoformat(passage["created_at"])
    Passage.objects.bulk_update(rows, ["created_at"])


def _scratch_delete(owner) -> None:
    from agents.services import agent_delete

    for agent in Agent.objects.filter(owner=owner):
        agent_delete(agent=agent)  # its archival vectors in Milvus too
    owner.delete()


def _replayed_differences(scenario: dict, agent: Agent) -> list[str]:
    from agents.services import run_execute, turn_enqueue

    given = scenario["input"]
    try:
        run = turn_enqueue(agent=agent, trigger=given["trigger"], text=given.get("text") or "")
    except ValueError as error:
        return [f"the input was refused: {error}"]
    run_execute(run=Run.objects.select_related("agent").get(pk=run.pk))
    run = _finished(run)  # a worker may have claimed it first
    blocks = {block.label: block.value for block in agent.blocks.all()}
    return effects_differences(scenario["expect"], _effects(run, blocks=blocks))


def _finished(run: Run) -> Run:
    deadline = time.monotonic() + settings.TURN_DEADLINE_SECONDS
    run.refresh_from_db()
    while run.status in RUN_UNFINISHED and time.monotonic() < deadline:
        time.sleep(0.1)
        run.refresh_from_db()
    return run


def _asked_differences(server: FakeLLM, recorded: int) -> list[str]:
    asked = len(server.chat_requests()) - len(server.refused)
    found = [f"the model was refused a request as OpenAI would refuse it: {problem}" for problem in server.refused]
    if asked != recorded:
        more = f"{asked - recorded} more" if asked > recorded else f"{recorded - asked} fewer"
        found.append(f"the model was asked {asked} time{'s' * (asked != 1)}, {more} than the {recorded} recorded")
    return found


# --- comparing ------------------------------------------------------------------------------------


def _untimed(text: Any) -> Any:
    return TIME.sub("<time>", text) if isinstance(text, str) else text


def _short(value: Any, limit: int = 160) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _call(call: dict) -> str:
    return f"{call['name']}({_short(call['arguments'])}) at step {call['step']}"


def _message(message: dict) -> str:
    return f"{message['role']}/{message['kind']} {_short(message['text'])!r}"


def effects_differences(expected: dict, got: dict) -> list[str]:
    """Every way `got` differs from `expected` (both as _effects makes them), named; [] when alike."""
    found = _listed("tool call", expected["tool_calls"], got["tool_calls"], _call, lambda call: call)
    found += _listed("message", expected["messages"], got["messages"], _message,
                     lambda m: {**m, "text": _untimed(m["text"])})
    for label in list(expected["blocks"]) + [label for label in got["blocks"] if label not in expected["blocks"]]:
        want, have = expected["blocks"].get(label), got["blocks"].get(label)
        if want != have:
            found.append(f"block {label}: expected {_short(want)!r} got {_short(have)!r}" if None not in (want, have)
                         else f"block {label}: {'missing' if have is None else 'not expected'}")
    unexpected, missing = list(got["passages_added"]), []  # as multisets: their order is not the point
    for text in expected["passages_added"]:
        if text in unexpected:
            unexpected.remove(text)
        else:
            missing.append(text)
    found += [f"passage missing: {_short(text)!r}" for text in missing]
    found += [f"passage not expected: {_short(text)!r}" for text in unexpected]
    for key in ("stop_reason", "status"):
        if expected[key] != got[key]:
            found.append(f"{key.replace('_', ' ')}: expected {expected[key]} got {got[key]}")
    return found


def _listed(what: str, expected: list, got: list, show, key) -> list[str]:
    found = []
    for index, (want, have) in enumerate(zip(expected, got)):
        if key(want) != key(have):
            found.append(f"{what} {index}: expected {show(want)} got {show(have)}")
    found += [f"{what} {index}: expected {show(want)}, none made" for index, want in enumerate(expected) if index >= len(got)]
    found += [f"{what} {index}: not expected: {show(have)}" for index, have in enumerate(got) if index >= len(expected)]
    return found
