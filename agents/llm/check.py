"""The model check: a fixed, scripted conversation against a model, reported point by point.

Local model servers are the most common source of broken agents: models that answer without a tool
call, send invalid arguments, forget request_heartbeat, or run on servers without native tool calling.
The check asks the model what a MemGPT turn needs (save a fact to archival memory, then reply with
send_message) through the LLM client alone, in a throwaway conversation: no agent's memory, runs or
steps are touched. Each point says pass, warn or fail, why in one line, how long it took, and the
agent setting that fixes it where there is one (heartbeat_fallback, tool_protocol "json"). The check
runs with the fallbacks the agent has on, so it shows them working.
"""

import json
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import jsonschema

from agents.engine.tools import BASE_SCHEMAS
from agents.engine.types import LLM, Completion, Delta
from agents.llm.json_tools import JsonToolsLLM
from agents.llm.tokenize import TokenizeEndpoint
from memory.errors import ProviderError
from memory.tokens import encoding_name_for_model

PASS, WARN, FAIL, SKIP = "pass", "warn", "fail", "skip"
FIX_JSON = 'tool_protocol "json": the tools are described in the prompt and the answer read back as calls'
FIX_HEARTBEAT = "heartbeat_fallback: a tool call without request_heartbeat gets a heartbeat"
FACT = "The check's code word is heliotrope."
SYSTEM = (
    "You are a MemGPT agent: you act only by calling tools. The user hears you only through send_message. "
    "archival_memory_insert saves a passage to your long-term memory; set request_heartbeat to true on it "
    "when you want to act again right after it (to reply, say). Put your private thoughts in your content."
)
USER = f'Save this fact to your archival memory: "{FACT}" Then tell me, with send_message, that you saved it.'
TOOLS = [s for s in BASE_SCHEMAS if s["function"]["name"] in ("send_message", "archival_memory_insert")]
PARAMETERS = {s["function"]["name"]: s["function"]["parameters"] for s in TOOLS}
HEARTBEAT = ("[This is an automated system message hidden from the user] Function called using "
             "request_heartbeat=true, returning control")
MAX_TOKENS = 512


@dataclass
class Point:
    key: str
    title: str
    status: str = SKIP
    detail: str = "not reached"
    seconds: float = 0.0
    fix: str = ""
    required: bool = False

    def set(self, **values: Any) -> None:
        for name, value in values.items():
            setattr(self, name, value)


@dataclass
class Report:
    model: str
    protocol: str
    heartbeat_fallback: bool
    points: list[Point] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No required point failed."""
        return not any(p.required and p.status == FAIL for p in self.points)

    def point(self, key: str) -> Point:
        return next(p for p in self.points if p.key == key)

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


def _points() -> list[Point]:
    return [
        Point("answers", "Answers at all", required=True),
        Point("native_tools", "Native tool calling accepted"),
        Point("calls_tool", "Calls a tool when tools are offered", required=True),
        Point("valid_arguments", "Tool arguments are valid JSON matching the schema", required=True),
        Point("heartbeat", "Keeps request_heartbeat on a non-final call"),
        Point("send_message", "Ends with send_message"),
        Point("streams", "Streams its answer"),
        Point("usage", "Reports usage (prompt and completion tokens)"),
        Point("tokenize", "Exact token counts"),
    ]


class _Counted:
    """The client under the check, counting the pieces each answer streams in."""

    def __init__(self, inner: LLM) -> None:
        self.inner, self.pieces = inner, 0

    def complete(self, request: dict[str, Any], on_delta: Callable[[Delta], None]) -> Completion:
        self.pieces = 0

        def count(delta: Delta) -> None:
            self.pieces += 1
            on_delta(delta)

        return self.inner.complete(request, count)


def _request(model: str, messages: list[dict], *, tools: bool = True) -> dict[str, Any]:
    request = {"model": model, "messages": messages, "temperature": 0.0, "max_tokens": MAX_TOKENS,
               "stream": True, "stream_options": {"include_usage": True}}
    if tools:
        request.update(tools=TOOLS, tool_choice="auto")
    return request


def _timed(call: Callable[[], Any]) -> tuple[Any, float, ProviderError | None]:
    started = time.perf_counter()
    try:
        return call(), time.perf_counter() - started, None
    except ProviderError as error:
        return None, time.perf_counter() - started, error


def _ignore(delta: Delta) -> None:
    pass


def _argument_problems(completion: Completion) -> list[str]:
    problems = []
    for call in completion.tool_calls:
        if call.name not in PARAMETERS:
            problems.append(f"{call.name!r} is not one of the tools offered")
            continue
        try:
            arguments = json.loads(call.arguments or "{}")
        except ValueError as error:
            problems.append(f"{call.name}: not JSON ({error.msg} at character {error.pos})")
            continue
        if not isinstance(arguments, dict):
            problems.append(f"{call.name}: the arguments are not a JSON object")
            continue
        schema = {**PARAMETERS[call.name], "required": [r for r in PARAMETERS[call.name]["required"]
                                                        if r != "request_heartbeat"]}  # its own point
        for error in jsonschema.Draft202012Validator(schema).iter_errors(arguments):
            where = ".".join(map(str, error.path))
            problems.append(f"{call.name}: {where + ': ' if where else ''}{error.message[:120]}")
    return problems


def _arguments(raw: str) -> dict:
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def run_check(llm: LLM, *, model: str, protocol: str = "native", heartbeat_fallback: bool = False,
              tokenize: TokenizeEndpoint | None = None) -> Report:
    """Check `model` through `llm` (a client as get_llm gives it, without the JSON protocol: `protocol`
    says whether to add it), as an agent with these fallbacks would use it."""
    report = Report(model=model, protocol=protocol, heartbeat_fallback=heartbeat_fallback, points=_points())
    p = {point.key: point for point in report.points}
    counted = _Counted(llm)
    client: LLM = JsonToolsLLM(counted) if protocol == "json" else counted
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": USER}]
    _check_tokenize(p["tokenize"], model, tokenize)

    first, seconds, error = _timed(lambda: client.complete(_request(model, list(messages)), _ignore))
    streamed = counted.pieces
    if error is not None and protocol == "native" and error.status is not None and 400 <= error.status < 500 \
            and not error.context_overflow:  # refused: is it the tools?
        plain, plain_seconds, plain_error = _timed(lambda: llm.complete(_request(model, list(messages), tools=False),
                                                                       _ignore))
        if plain_error is not None:
            p["answers"].set(status=FAIL, seconds=seconds, detail=f"No answer: {error.message}")
            return report
        p["native_tools"].set(
            status=FAIL, seconds=seconds, fix=FIX_JSON,
            detail=f"The server refuses requests with tools ({error.message[:160]}); it answers without them.")
        protocol, client = "json", JsonToolsLLM(counted)  # the rest of the check shows the fallback
        report.protocol = "json (for the rest of this check)"
        first, seconds, error = _timed(lambda: client.complete(_request(model, list(messages)), _ignore))
        streamed = counted.pieces
    if error is not None:
        p["answers"].set(status=FAIL, seconds=seconds, detail=f"No answer: {error.message}")
        return report
    p["answers"].set(status=PASS, seconds=seconds,
                                 detail=f"Answered in {seconds:.1f} s ({first.finish_reason or 'no finish reason'}).")
    if p["native_tools"].status == SKIP:
        if protocol == "json":
            p["native_tools"].detail = "Not asked: the JSON protocol is in use."
        else:
            p["native_tools"].set(status=PASS, seconds=seconds, detail="The server took a request with tools.")
    _check_usage(p["usage"], first, seconds)

    if not first.tool_calls:
        said = (first.content or "").strip().replace("\n", " ")
        p["calls_tool"].set(
            status=FAIL, seconds=seconds,
            detail=f"Answered in plain text instead of calling a tool: {said[:120]!r}",
            fix=FIX_JSON if protocol == "native" else "A larger or instruction-tuned model: this one ignores the format.")
        _check_streams(p["streams"], streamed, seconds)
        return report
    names = [c.name for c in first.tool_calls]
    p["calls_tool"].set(status=PASS, seconds=seconds, detail=f"Called {', '.join(names)}.")
    problems = _argument_problems(first)
    if problems:
        p["valid_arguments"].set(
            status=FAIL, seconds=seconds, detail="; ".join(problems)[:300],
            fix=FIX_JSON if protocol == "native" else "A larger model: its JSON breaks even when asked for JSON.")
    else:
        p["valid_arguments"].set(status=PASS, seconds=seconds, detail="Every call's arguments match its schema.")

    saved = next((c for c in first.tool_calls if c.name == "archival_memory_insert"), None)
    replied = next((c for c in first.tool_calls if c.name == "send_message"), None)
    if saved is None:
        p["heartbeat"].set(status=WARN, seconds=seconds, detail="Did not save the fact first, so it "
                                       "was not seen to chain a call to its reply.")
    elif replied is not None:
        p["heartbeat"].set(status=PASS, seconds=seconds,
                                       detail="Saved and replied in one answer: no heartbeat needed.")
    elif _arguments(saved.arguments).get("request_heartbeat") is True:
        p["heartbeat"].set(status=PASS, seconds=seconds, detail="request_heartbeat was true on the save.")
    elif heartbeat_fallback:
        p["heartbeat"].set(status=PASS, seconds=seconds, detail="Forgot request_heartbeat; the agent's "
                                       "heartbeat_fallback gives it one, so the turn goes on to the reply.")
    else:
        p["heartbeat"].set(status=WARN, seconds=seconds, fix=FIX_HEARTBEAT,
                                       detail="Forgot request_heartbeat on the save: the turn would stop there, silent.")

    final, final_seconds, streamed_later = first, seconds, streamed
    if replied is None:  # the second step of the turn, as the loop (or its fallback) would ask for it
        history = [*messages, {"role": "assistant", "content": first.content or None, "tool_calls": [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in first.tool_calls]}]
        history += [{"role": "tool", "tool_call_id": c.id,
                     "content": json.dumps({"status": "OK", "message": None})} for c in first.tool_calls]
        history.append({"role": "user", "content": json.dumps({"type": "heartbeat", "reason": HEARTBEAT})})
        final, final_seconds, error = _timed(lambda: client.complete(_request(model, history), _ignore))
        streamed_later = counted.pieces
        if error is not None:
            p["send_message"].set(status=FAIL, seconds=final_seconds,
                                              detail=f"The second step failed: {error.message[:200]}")
            _check_streams(p["streams"], streamed, seconds)
            return report
    said = next((c for c in final.tool_calls if c.name == "send_message"), None)
    if said is not None and _arguments(said.arguments).get("message"):
        p["send_message"].set(status=PASS, seconds=final_seconds,
                                          detail=f"Replied: {_arguments(said.arguments)['message'][:120]!r}")
    elif not final.tool_calls:
        p["send_message"].set(
            status=WARN, seconds=final_seconds,
            fix=FIX_JSON if protocol == "native" else "",
            detail="Replied in plain text, not send_message: the agent shows it as its reply, but ends the turn "
                   "without the tool.")
    else:
        p["send_message"].set(
            status=WARN, seconds=final_seconds,
            detail=f"Called {', '.join(c.name for c in final.tool_calls)} instead of send_message with a message.")
    _check_streams(p["streams"], max(streamed, streamed_later), seconds)
    return report


def _check_streams(point: Point, pieces: int, seconds: float) -> None:
    if pieces > 1:
        point.set(status=PASS, seconds=seconds, detail=f"The answer came in {pieces} pieces.")
    else:
        point.set(status=WARN, seconds=seconds,
                              detail="The answer came in one piece: the chat shows it only once it is complete.")


def _check_usage(point: Point, completion: Completion, seconds: float) -> None:
    usage = completion.usage or {}
    if isinstance(usage.get("prompt_tokens"), int) and isinstance(usage.get("completion_tokens"), int):
        point.set(status=PASS, seconds=seconds, detail=f"{usage['prompt_tokens']} prompt and "
                              f"{usage['completion_tokens']} completion tokens reported.")
    else:
        point.set(status=WARN, seconds=seconds, detail="No usage in the stream: steps show our own "
                              "count only, and the gap to the server's count cannot be measured.")


def _check_tokenize(point: Point, model: str, endpoint: TokenizeEndpoint | None) -> None:
    started = time.perf_counter()
    if encoding_name_for_model(model) is not None:
        point.set(status=PASS, detail=f"An OpenAI model: counted exactly with tiktoken "
                              f"({encoding_name_for_model(model)}).")
        return
    kind = endpoint.kind() if endpoint is not None else None
    seconds = time.perf_counter() - started
    if kind is not None:
        point.set(status=PASS, seconds=seconds, detail=f"The server's /tokenize answers ({kind}): "
                              "token counts are exact.")
    else:
        point.set(status=WARN, seconds=seconds,
                              detail="No /tokenize on this server: token counts are approximate (o200k_base).",
                              fix="A server with a tokenize endpoint (vLLM, llama.cpp) for exact counts.")


def check_agent(agent) -> Report:
    """The check against the agent's model, on its server, with its fallbacks."""
    from agents.llm import agent_model_name, get_llm_for
    from agents.llm.tokenize import ServerTokenizer, agent_tokenizer

    tokenizer, _ = agent_tokenizer(agent)
    endpoint = tokenizer.endpoint if isinstance(tokenizer, ServerTokenizer) else None
    return run_check(get_llm_for(agent), model=agent_model_name(agent), protocol=agent.tool_protocol,
                     heartbeat_fallback=agent.heartbeat_fallback, tokenize=endpoint)


def check_handle(handle: str, *, protocol: str = "native", heartbeat_fallback: bool = False) -> Report:
    """The check against a model of the operator's server (OPENAI_BASE_URL), by name."""
    from django.conf import settings

    from agents.llm import get_llm, model_name

    model = model_name(handle)
    endpoint = TokenizeEndpoint(base_url=settings.OPENAI_BASE_URL, model=model, api_key=settings.OPENAI_API_KEY) \
        if settings.OPENAI_BASE_URL else None
    return run_check(get_llm(), model=model, protocol=protocol, heartbeat_fallback=heartbeat_fallback,
                     tokenize=endpoint)
