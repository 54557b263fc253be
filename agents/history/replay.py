"""A replay: a stored step's exact request sent again with a few changes (model, temperature, system
prompt, core memory block values, tool set), to see what the model would have answered. Nothing of the
agent is touched: no message, step, run or block is written; the answer is kept on a StepReplay under
the step, beside the stored one (tests/agents/test_replay.py)."""

import copy
import difflib
import json
import logging
import re
import time
from types import SimpleNamespace
from typing import Any

from django.db import transaction
from django.utils import timezone
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agents.engine import snapshot
from agents.engine.context import core_memory_section
from agents.engine.tools import BASE_TOOL_NAMES
from agents.engine.types import Delta
from agents.errors import ReplayRefused
from agents.history.differences import request_differences
from agents.llm import DEFAULT_SERVER, LLMNotConfigured, get_llm_for, served_model_name, server_named
from agents.llm.json_tools import PROTOCOL_HEADING, protocol_text, with_tool_protocol
from agents.models import Step, StepReplay
from agents.selectors import tools_usable_by
from memory.errors import ProviderError
from memory.tokens import REPLY_PRIMING, count_message, count_tools

logger = logging.getLogger(__name__)
PROTOCOL_SEPARATOR = "\n\n" + PROTOCOL_HEADING  # where a JSON-protocol request's tool section starts
NO_STATE = ("Step {index} of run {run} was recorded before steps kept the agent's state, so its system prompt and "
            "core memory cannot be rebuilt; its model, temperature and tools can still be changed.")


class ReplayChanges(BaseModel):
    """What a replay changes; a field left out (None) is sent as the step sent it."""

    model_config = ConfigDict(extra="forbid")

    model: str | None = Field(None, min_length=1, max_length=200)  # a handle, as agents have: "<server>/<model>"
    temperature: float | None = Field(None, ge=0.0, le=2.0, allow_inf_nan=False)
    system: str | None = Field(None, max_length=100_000)  # the base instructions
    blocks: dict[str, str] | None = Field(None, max_length=100)  # label -> value
    tools: list[str] | None = Field(None, max_length=200)  # names; [] sends no tools

    @field_validator("model")
    @classmethod
    def _model_named(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("name a model, as '<server>/<model>'")
        return value.strip() if value is not None else None


def replay_changes(changes: dict[str, Any]) -> dict[str, Any]:
    """The changes validated, without the fields left as they were."""
    try:
        valid = ReplayChanges.model_validate(changes)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'changes'}: {e['msg']}" for e in error.errors())
        raise ReplayRefused(f"Invalid changes: {problems}") from None
    out = valid.model_dump(exclude_none=True)
    if "tools" in out:
        out["tools"] = list(dict.fromkeys(name.strip() for name in out["tools"]))
    return out


def step_handle(step: Step) -> str:
    """The model handle the step was sent to (its server named): as the agent had it then, if the step
    kept it, else as the agent has it now."""
    return ((step.state or {}).get("agent") or {}).get("model") or step.agent.model


def step_protocol(step: Step) -> str:
    """How the step offered tools: a JSON-protocol request carries them in its system message."""
    if _rewritten(step.request):
        return "json"
    return ((step.state or {}).get("agent") or {}).get("tool_protocol") or step.agent.tool_protocol


def _rewritten(request: dict) -> bool:
    messages = request.get("messages") or []
    first = messages[0] if messages and isinstance(messages[0], dict) else {}
    return PROTOCOL_HEADING in str(first.get("content") or "")


def replay_request(*, step: Step, changes: dict[str, Any]) -> dict[str, Any]:
    """The step's request as it was sent, with exactly the changes applied (ReplayRefused otherwise)."""
    changes = replay_changes(changes)
    if not isinstance(step.request, dict) or not isinstance(step.request.get("messages"), list):
        raise ReplayRefused(f"Step {step.pk} keeps no request to send again.")
    request = copy.deepcopy(step.request)
    if "model" in changes:
        request["model"] = _served_model(changes["model"], owner=step.agent.owner)
    if "temperature" in changes:
        request["temperature"] = changes["temperature"]
    if "system" in changes or "blocks" in changes:
        _rebuild_system(request, step, system=changes.get("system"), values=changes.get("blocks") or {})
    if "tools" in changes:
        _set_tools(request, step, changes["tools"])
    return request


# --- the parts of a change ------------------------------------------------------------------------


def _served_model(handle: str, *, owner) -> str:
    """The model name a request to the handle carries; ReplayRefused for a model nobody serves."""
    from agents.llm.catalog import model_catalog

    server = server_named(handle, owner.pk)
    catalog = model_catalog(owner=owner)
    server_name = server.name if server is not None else DEFAULT_SERVER
    listed = {m.server for m in catalog.models} | set(catalog.failures)
    if server_name not in listed:
        raise ReplayRefused(f"Unknown model {handle!r}: no model server named {handle.partition('/')[0]!r}, and no "
                            "default server is configured (OPENAI_BASE_URL / LLM_MODEL).")
    # a server that did not answer the listing is given the benefit of the doubt: the replay says what it answers
    if server_name not in catalog.failures and catalog.find(handle) is None:
        offered = ", ".join(m.handle for m in catalog.models[:12])
        raise ReplayRefused(f"Unknown model {handle!r}: not one of the models offered ({offered}).")
    return served_model_name(handle, server)


def _rebuild_system(request: dict, step: Step, *, system: str | None, values: dict[str, str]) -> None:
    """The system message again from its parts (base instructions, core memory, memory metadata, and for the
    JSON protocol its tool section), with the base instructions or block values changed."""
    state = step.state or {}
    if "blocks" not in state or "system" not in state:
        raise ReplayRefused(NO_STATE.format(index=step.index, run=step.run_id))
    if step.purpose != Step.Purpose.AGENT:
        raise ReplayRefused("A summary step's system message is not the agent's: only its model, temperature and "
                            "tools can be changed.")
    labels = [block["label"] for block in state["blocks"]]
    unknown = [label for label in values if label not in labels]
    if unknown:
        raise ReplayRefused(f"No block labelled {unknown[0]!r} in the step's core memory "
                            f"(it had {', '.join(map(repr, labels)) or 'none'}).")
    stored = system_parts(step, request=step.request)
    if stored is None:
        raise ReplayRefused(f"Step {step.pk}'s system message is not the one its state compiles to, so it cannot be "
                            "rebuilt with changes.")
    blocks = snapshot.blocks_of(state)
    for block in blocks:
        block.value = values.get(block.label, block.value)
    instructions = state["system"] if system is None else system
    request["messages"][0]["content"] = instructions + "\n\n" + core_memory_section(blocks) + "\n\n" + stored[2]


def system_parts(step: Step, *, request: dict, changes: dict | None = None) -> tuple[str, str, str] | None:
    """The request's system message as the context compiler's sections: base instructions, core memory (each
    with the separator that ends it) and the rest (memory metadata, then a JSON protocol's tool section), as the
    step's state with `changes` has them; None when the message is not made of them (a step without state)."""
    state, changes = step.state or {}, changes or {}
    messages = request.get("messages") or []
    first = messages[0] if messages and isinstance(messages[0], dict) else {}
    content = first.get("content")
    if "blocks" not in state or "system" not in state or first.get("role") != "system" or not isinstance(content, str):
        return None
    blocks = snapshot.blocks_of(state)
    for block in blocks:
        block.value = (changes.get("blocks") or {}).get(block.label, block.value)
    instructions = changes.get("system", state["system"]) + "\n\n"
    core = core_memory_section(blocks) + "\n\n"
    if not content.startswith(instructions + core):
        return None
    return instructions, core, content[len(instructions + core):]


def _set_tools(request: dict, step: Step, names: list[str]) -> None:
    """The tools offered become `names`: those the step offered keep the schema it sent, in its order; others
    are the owner's custom tools or built-in ones by name, after them."""
    json_protocol = _rewritten(request)
    if json_protocol:  # the step's tools are text in its system message; their names are in its state
        state_tools = (step.state or {}).get("tools")
        current = BASE_TOOL_NAMES if state_tools is None and step.state else list(state_tools or [])
        sent: dict[str, dict] = {}
    else:
        sent = {t["function"]["name"]: t for t in request.get("tools") or [] if isinstance(t, dict) and "function" in t}
        current = list(sent)
    ordered = [n for n in current if n in names] + [n for n in names if n not in current]
    schemas = _schemas(step, [n for n in ordered if n not in sent])
    tools = [sent.get(name) or schemas[name] for name in ordered]
    if json_protocol:
        first = request["messages"][0]
        cut = first["content"].rfind(PROTOCOL_SEPARATOR)
        base = first["content"][:cut] if cut >= 0 else first["content"]
        first["content"] = f"{base}\n\n{protocol_text(tools)}" if tools else base
    elif tools:
        request["tools"] = tools
        request.setdefault("tool_choice", "auto")
    else:  # OpenAI refuses an empty list, and a tool_choice without tools
        for key in ("tools", "tool_choice", "parallel_tool_calls"):
            request.pop(key, None)


def _schemas(step: Step, names: list[str]) -> dict[str, dict]:
    """The schemas of tools by name: the agent's own at the step first, then the owner's, then built-in."""
    if not names:
        return {}
    had = set(((step.state or {}).get("agent") or {}).get("tool_ids") or [])
    rows = sorted(tools_usable_by(step.agent.owner).filter(name__in=names),
                  key=lambda t: (t.pk not in had, t.owner_id is None))
    found: dict[str, dict] = {}
    for row in rows:
        found.setdefault(row.name, row.json_schema)
    missing = [n for n in names if n not in found]
    if missing:
        raise ReplayRefused(f"No tool named {missing[0]!r}: neither a built-in tool nor one of yours.")
    return found


# --- queued, and run on a worker ------------------------------------------------------------------


def replay_enqueue(*, step: Step, changes: dict[str, Any], user) -> StepReplay:
    """Check the changes and queue the replay on a worker (ReplayRefused for changes that cannot be made)."""
    from agents.tasks import replay_step

    changes = replay_changes(changes)
    request = replay_request(step=step, changes=changes)
    replay = StepReplay.objects.create(step=step, created_by=user, changes=changes, request=request)
    transaction.on_commit(lambda: replay_step.delay(replay.pk))
    return replay


def _ignore(delta: Delta) -> None:  # nobody watches a replay stream in
    pass


def replay_run(*, replay_id: int) -> None:
    """Send a queued replay's request and keep the answer; quiet when the replay is gone or taken already.
    No transaction is open during the call, and nothing but the replay row is written."""
    taken = StepReplay.objects.filter(pk=replay_id, status=StepReplay.Status.QUEUED).update(
        status=StepReplay.Status.RUNNING)
    replay = StepReplay.objects.select_related("step__agent").filter(pk=replay_id).first() if taken else None
    if replay is None:
        return
    step = replay.step
    # the client of the server the handle names: get_llm_for reads only these two of an agent
    target = SimpleNamespace(model=replay.changes.get("model") or step_handle(step), owner_id=step.agent.owner_id)
    request = copy.deepcopy(replay.request)
    outcome: dict[str, Any] = {"status": StepReplay.Status.FAILED}
    started = time.perf_counter()
    try:
        llm = with_tool_protocol(get_llm_for(target), step_protocol(step))
        completion = llm.complete(request, _ignore)  # a JSON-protocol request may be rewritten in place, as sent
        outcome = {"status": StepReplay.Status.DONE, "response": completion.response, "usage": completion.usage}
    except (ProviderError, LLMNotConfigured) as error:
        outcome["error"] = getattr(error, "message", None) or str(error)
    except Exception as error:  # a bug of ours: said on the replay, not lost in a worker's log alone
        logger.exception("replay %s failed", replay_id)
        outcome["error"] = f"Internal error: {type(error).__name__}: {error}"
    latency = (time.perf_counter() - started) * 1000
    StepReplay.objects.filter(pk=replay_id).update(request=request, latency_ms=latency, finished_at=timezone.now(),
                                                   tokens=_tokens(target, replay, request), **outcome)


def _tokens(target, replay: StepReplay, request: dict) -> dict[str, Any]:
    """Our count of the replayed prompt with the tokenizer of its model, in the step's tiers where its system
    message is made of the compiler's sections (else that message whole, as "system")."""
    from agents.llm.tokenize import agent_tokenizer

    try:
        tokenizer, approximate = agent_tokenizer(target)
        messages = [m for m in request.get("messages") or [] if isinstance(m, dict)]
        tokens = {"tool_schemas": count_tools(tokenizer, request.get("tools") or []),
                  "messages": sum(count_message(tokenizer, m) for m in messages[1:]) + REPLY_PRIMING}
        whole = count_message(tokenizer, messages[0]) if messages else 0
        parts = system_parts(replay.step, request=request, changes=replay.changes)
        if parts is None:
            tokens["system"] = whole
        else:  # as compile_context counts them: the message's own overhead goes to the instructions
            counts = tokenizer.count_sections(list(parts))
            tokens.update(system_instructions=whole - counts[1] - counts[2], core_memory=counts[1],
                          memory_metadata=counts[2])
    except Exception as error:  # a count that fails must not lose the answer
        logger.warning("counting the tokens of replay %s failed: %s", replay.pk, error)
        return {}
    return {**tokens, "prompt_total": sum(tokens.values()), "encoding": tokenizer.name, "approximate": approximate}


# --- stored beside new --------------------------------------------------------------------------------


def answer_of(response: dict | None) -> dict[str, Any]:
    """The text and tool calls of a response as stored (a JSON-protocol answer as it was read)."""
    if not isinstance(response, dict):
        return {"content": "", "tool_calls": [], "finish_reason": None}
    choice = (response.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    content, calls = message.get("content") or "", message.get("tool_calls") or []
    if isinstance(response.get("json_protocol"), dict):
        calls = response["json_protocol"].get("tool_calls") or []
        content = response["json_protocol"].get("thinking", "") if calls else content
    return {"content": content, "finish_reason": choice.get("finish_reason"),
            "tool_calls": [{"name": (c.get("function") or {}).get("name", ""),
                            "arguments": (c.get("function") or {}).get("arguments") or ""} for c in calls]}


def word_diff(old: str, new: str) -> list[dict[str, str]]:
    """The words (and the spaces between them) both texts share, and those only one has: [{"op", "text"}] with
    op "equal", "remove" or "add", neighbours of one kind joined."""
    a, b = re.split(r"(\s+)", old), re.split(r"(\s+)", new)
    parts: list[dict[str, str]] = []

    def put(op: str, words: list[str]) -> None:
        text = "".join(words)
        if not text:
            return
        if parts and parts[-1]["op"] == op:
            parts[-1]["text"] += text
        else:
            parts.append({"op": op, "text": text})

    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            put("equal", a[i1:i2])
        else:
            put("remove", a[i1:i2])
            put("add", b[j1:j2])
    return parts


def _parsed(raw: str) -> tuple[Any, bool]:
    try:
        return json.loads(raw or "{}"), True
    except ValueError:
        return raw, False


def arguments_diff(old: str, new: str) -> list[dict[str, Any]]:
    """Two calls' arguments compared key by key as parsed JSON: [{"key", "change", "stored", "new"}] with change
    "same", "changed", "removed" or "added"; arguments that are not JSON objects are compared whole (key None)."""
    a, a_ok = _parsed(old)
    b, b_ok = _parsed(new)
    if not (a_ok and b_ok and isinstance(a, dict) and isinstance(b, dict)):
        return [{"key": None, "change": "same" if a == b else "changed", "stored": a, "new": b}]
    rows = []
    for key in list(a) + [k for k in b if k not in a]:
        if key not in b:
            rows.append({"key": key, "change": "removed", "stored": a[key], "new": None})
        elif key not in a:
            rows.append({"key": key, "change": "added", "stored": None, "new": b[key]})
        else:
            change = "same" if a[key] == b[key] else "changed"
            rows.append({"key": key, "change": change, "stored": a[key], "new": b[key]})
    return rows


def tool_calls_diff(old: list[dict], new: list[dict]) -> list[dict[str, Any]]:
    """The calls of both answers, position by position."""
    rows = []
    for index in range(max(len(old), len(new))):
        a = old[index] if index < len(old) else None
        b = new[index] if index < len(new) else None
        if a is None or b is None:
            rows.append({"index": index, "name": "added" if a is None else "removed",
                         "stored_name": a and a["name"], "new_name": b and b["name"], "arguments": []})
            continue
        rows.append({"index": index, "name": "same" if a["name"] == b["name"] else "changed",
                     "stored_name": a["name"], "new_name": b["name"],
                     "arguments": arguments_diff(a["arguments"], b["arguments"])})
    return rows


def replay_comparison(*, replay: StepReplay) -> dict[str, Any]:
    """The step's stored answer beside the replay's: both texts and tool calls, the differences word by word
    and line by line, each call's name and arguments compared, tokens and latency side by side."""
    step = replay.step
    stored, new = answer_of(step.response), answer_of(replay.response)
    usage_old, usage_new = step.usage or {}, replay.usage or {}
    return {
        "status": replay.status,
        "changes": replay.changes,
        "request_differences": request_differences(step.request if isinstance(step.request, dict) else {},
                                                   replay.request or {}),
        "stored": {**stored, "model": step.request.get("model") if isinstance(step.request, dict) else step.model,
                   "error": step.error},
        "new": {**new, "model": (replay.request or {}).get("model"), "error": replay.error},
        "content_diff": word_diff(stored["content"], new["content"]),
        "line_diff": list(difflib.unified_diff(stored["content"].splitlines(), new["content"].splitlines(), "stored",
                                               "new", lineterm="")),
        "tool_calls_diff": tool_calls_diff(stored["tool_calls"], new["tool_calls"]),
        "tokens": {
            "prompt": {"stored": step.prompt_tokens, "new": usage_new.get("prompt_tokens")},
            "completion": {"stored": step.completion_tokens, "new": usage_new.get("completion_tokens")},
            "total": {"stored": usage_old.get("total_tokens"), "new": usage_new.get("total_tokens")},
            "ours": {"stored": (step.tokens or {}).get("prompt_total"),
                     "new": (replay.tokens or {}).get("prompt_total")},
        },
        "latency_ms": {"stored": step.latency_ms, "new": replay.latency_ms},
    }
