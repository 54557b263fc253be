"""The MemGPT loop: one turn of an agent, from an event to the end of its chain of steps."""

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable

from agents.engine import events, prompts, snapshot
from agents.engine.context import CompiledContext, compile_context, over_flush_line, over_warning_line
from agents.engine.rules import ToolRules
from agents.engine.streaming import AnswerStream
from agents.engine.tools import ToolContext, ToolOutcome, argument_of, execute, tools_of
from agents.engine.types import (
    LLM,
    AgentState,
    Completion,
    Delta,
    MessageView,
    Messenger,
    Publish,
    StepRecord,
    Store,
    Suspension,
    ToolCall,
    ToolRunner,
)
from memory.errors import ProviderError
from memory.tokens import Tokenizer


@dataclass
class Event:
    """What starts a turn."""

    kind: str  # user_message, agent_message, login, heartbeat, memory_warning
    text: str = ""
    last_login: datetime | None = None
    # whom the event is from: an agent_message's sender {"id", "name", "waits"} (whether it waits for the
    # reply); a group_message's group {"id", "name"}; a sleeptime turn's primary agent {"id", "name"}
    sender: dict | None = None
    # a `continue` event (no message: the pending step of a fork or a rewound agent made again): the
    # turn it takes up, {"steps", "called"} as agents.engine.snapshot keeps them
    turn: dict | None = None


MIN_RESULT_CHARS = 1_000


@dataclass
class TurnResult:
    status: str  # completed, failed, cancelled, or waiting (for other agents' replies: see Turn.resume)
    stop_reason: str  # end_turn, max_steps, no_tool_call, error, cancelled; "" while waiting
    error: str = ""
    steps: int = 0
    suspension: Suspension | None = None


@dataclass
class TurnSettings:
    page_size: int = 5
    max_retries: int = 3
    backoff_seconds: float = 0.5
    max_retry_wait: float = 60.0  # a Retry-After longer than this fails the turn instead of holding it
    deadline_seconds: float = float("inf")  # no new step starts after this long (the worker's own time limit may not hold)
    max_flushes: int = 3
    summary_words: int = 250


class TurnFailure(Exception):
    """The turn cannot go on (not the model's fault): the provider kept failing, or memory cannot be freed."""


@dataclass
class Turn:
    """One turn. It announces what it stores and does through `publish`; how the turn ended is the
    caller's to announce (the run's "error" and "stop"), from the TurnResult."""

    store: Store
    llm: LLM
    publish: Publish
    tokenizer: Tokenizer
    approximate: bool
    run_id: int | None = None
    settings: TurnSettings = field(default_factory=TurnSettings)
    now: Callable[[], datetime] = field(default=lambda: datetime.now(timezone.utc))
    sleep: Callable[[float], None] = time.sleep
    tool_runner: ToolRunner | None = None  # runs the agent's custom tools
    messenger: Messenger | None = None  # sends the agent's messages to other agents

    def run(self, event: Event) -> TurnResult:
        carried = event.turn or {}
        self.begin(steps=carried.get("steps", 0))
        self.rules.called = [tuple(call) for call in carried.get("called", [])]
        return self.steps_from(lambda: self.record_event(event))

    def resume(self, suspension: Suspension, results: dict[str, ToolOutcome]) -> TurnResult:
        """Go on with a turn that waited for other agents: `results` are the waiting calls' results, by call id."""
        self.begin(steps=suspension.steps, calls=suspension.calls)
        self.rules.called = [(name, output) for name, output in suspension.called]

        def answer_the_calls() -> str | None:
            heartbeat, failed = suspension.heartbeat, suspension.failed
            for call in suspension.waiting:
                outcome = results[call["id"]]
                outcome.heartbeat = outcome.heartbeat or call["heartbeat"]
                self.record_result(ToolCall(call["id"], call["name"], ""), outcome, suspension.step_id)
                heartbeat, failed = heartbeat or outcome.heartbeat, failed or outcome.failed
            return self.after_calls(suspension.step_id, list(suspension.notes), heartbeat, failed, suspension.ends)

        return self.steps_from(answer_the_calls)

    def begin(self, *, steps: int = 0, calls: int = 0) -> None:
        self.state = self.store.load()
        self.rules = ToolRules(self.state.tool_rules)
        self.rule_note = ""  # what the rules did to the tools offered at the step being prepared
        self.calls = calls  # LLM calls in this turn, failed and summary calls included
        self.steps = steps
        self.suspension: Suspension | None = None
        self.stream: AnswerStream | None = None  # the last agent call's, whose answer `act` stores
        self.deadline = time.monotonic() + self.settings.deadline_seconds

    def steps_from(self, first: Callable[[], str | None]) -> TurnResult:
        """Do `first` (it may end the turn: its stop reason), then steps until the turn ends, fails or waits."""
        try:
            outcome = first()
            if outcome is not None:
                return TurnResult("completed", outcome, steps=self.steps)
            while self.steps < self.state.max_steps:
                # at a step boundary: every call made so far has its result
                if self.store.cancelled():
                    return TurnResult("cancelled", "cancelled", steps=self.steps)
                if self.steps and time.monotonic() > self.deadline:
                    raise TurnFailure(f"The turn ran past its deadline of {self.settings.deadline_seconds:.0f} s "
                                      f"(TURN_DEADLINE_SECONDS) after {self.steps} steps; what it did is kept.")
                self.steps += 1
                completion, step_id = self.agent_step()
                outcome = self.act(completion, step_id)
                if self.suspension is not None:
                    self.suspension.steps, self.suspension.calls = self.steps, self.calls
                    return TurnResult("waiting", "", steps=self.steps, suspension=self.suspension)
                if outcome is not None:
                    return TurnResult("completed", outcome, steps=self.steps)
            return TurnResult("completed", "max_steps", steps=self.steps)
        except TurnFailure as failure:
            return TurnResult("failed", "error", error=str(failure), steps=self.steps)

    # --- messages ----------------------------------------------------------------------------

    def append(self, *messages: MessageView, step_id: int | None = None,
               streamed: AnswerStream | None = None) -> list[MessageView]:
        """Store messages in recall memory and the context window, and announce them (`streamed`: the
        pieces of the answer told already)."""
        saved = self.store.append(list(messages), step_id=step_id)
        self.state.messages.extend(saved)
        self.state.recall_count += len(saved)
        self.announce(saved, streamed)
        return saved

    def announce(self, messages: list[MessageView], streamed: AnswerStream | None = None) -> None:
        for message in messages:
            for event in events.message_events(message):
                if streamed is not None and streamed.covers(event):
                    event["streamed"] = True
                self.publish(event)

    def record_event(self, event: Event) -> None:
        if event.kind == "continue":  # the event was recorded before the fork or the rewind
            return
        moment = self.now()
        if event.kind == "user_message":
            self.append(MessageView(None, "user", "user_message", prompts.user_message(event.text, moment), event.text))
            return
        if event.kind == "agent_message":
            content = prompts.agent_message(event.text, event.sender, moment)
            self.append(MessageView(None, "user", "agent_message", content, event.text))
            return
        if event.kind == "group_message":  # the text: [{"from", "text"}] as JSON
            said = json.loads(event.text)
            content = prompts.group_message(said, event.sender, moment)
            self.append(MessageView(None, "user", "group_message", content,
                                    "\n\n".join(f"{m['from']}: {m['text']}" for m in said)))
            return
        if event.kind == "sleeptime":
            content = prompts.sleeptime(event.text, event.sender, moment)
            self.append(MessageView(None, "user", "system_alert", content, f"New messages of {event.sender['name']} to "
                                    "fold into the shared memory."))
            return
        if event.kind == "login":
            content, kind = prompts.login(event.last_login, moment), "login"
        elif event.kind == "heartbeat":
            # a scheduled wake-up carries its own reason (agents/schedules.py); the button, the manual one
            content, kind = prompts.heartbeat(event.text or prompts.MANUAL_HEARTBEAT_REASON, moment), "heartbeat"
        elif event.kind == "memory_warning":
            content, kind = prompts.system_alert(prompts.MEMORY_WARNING, moment), "system_alert"
        else:
            raise ValueError(f"unknown event kind {event.kind!r}")
        self.append(MessageView(None, "user", kind, content, content))

    # --- one step ----------------------------------------------------------------------------

    def compile(self) -> CompiledContext:
        tools = tools_of(self.state)
        allowed, self.rule_note = self.rules.allowed([t.name for t in tools])
        return compile_context(self.state, tools=[t.schema for t in tools if t.name in allowed], tokenizer=self.tokenizer,
                               approximate=self.approximate)

    def prepared_context(self) -> CompiledContext:
        """The context for the next call, after memory pressure is dealt with."""
        flushes = 0
        while True:
            context = self.compile()
            if over_flush_line(context):
                if flushes == self.settings.max_flushes:
                    raise TurnFailure(
                        f"The context ({context.prompt_tokens} tokens) still does not fit the window of "
                        f"{self.state.context_window} tokens after {flushes} summaries left only the newest message "
                        "in it: core memory, the instructions or that message are too large for it.")
                flushes += 1
                # the last summary a turn may make keeps only the newest message, the one to answer
                self.flush(share=1.0 if flushes == self.settings.max_flushes else self.state.evict_share)
                continue
            if over_warning_line(context, self.state.warning_share):
                if not self.state.memory_warning_sent:
                    self.warn()
                    continue
            elif self.state.memory_warning_sent:
                self.state.memory_warning_sent = False  # below the line again: the next crossing warns again
                self.store.set_memory_warning(False)
            return context

    def warn(self) -> None:
        content = prompts.system_alert(prompts.MEMORY_WARNING, self.now())
        self.append(MessageView(None, "user", "system_alert", content, prompts.MEMORY_WARNING))
        self.state.memory_warning_sent = True
        self.store.set_memory_warning(True)

    def request(self, context: CompiledContext) -> dict[str, Any]:
        return request_body(self.state, context)

    def agent_step(self) -> tuple[Completion, int]:
        overflows = 0
        while True:
            context = self.prepared_context()
            try:
                return self.call(self.request(context), context.tokens, purpose="agent")
            except ProviderError as error:
                if not error.context_overflow or overflows >= self.settings.max_flushes:
                    raise TurnFailure(error.message) from error
                overflows += 1  # our count was below the provider's: free memory and try again
                self.flush()

    def call(self, request: dict[str, Any], tokens: dict[str, Any], *, purpose: str) -> tuple[Completion, int]:
        """One LLM call with bounded retries of retryable errors; every attempt is a recorded step."""
        state = snapshot.take(self.state, steps=self.steps, called=self.rules.called)
        for attempt in range(self.settings.max_retries + 1):
            index = self.calls
            self.calls += 1
            started = time.perf_counter()
            # an answer's pieces go out as they come, named by the message it will be stored as
            stream = AnswerStream(self.publish, run_id=self.run_id, step=index,
                                  message_id=self.store.reserve_message_id()) if purpose == "agent" else None
            if stream is not None:
                self.stream = stream
            try:
                completion = self.llm.complete(request, stream.take if stream is not None else _ignore)
                if stream is not None:
                    stream.flush()
            except ProviderError as error:
                latency = (time.perf_counter() - started) * 1000
                step_id = self.store.save_step(StepRecord(index, request["model"], request, None, tokens, None,
                                                          latency, error=error.message, purpose=purpose, state=state))
                if not error.retryable or attempt == self.settings.max_retries:
                    raise
                wait = self.settings.backoff_seconds * 2**attempt
                if error.retry_after is not None:  # the server said how long: wait that, within reason
                    if error.retry_after > self.settings.max_retry_wait:
                        raise
                    wait = max(wait, error.retry_after)
                self.publish(events.retry(run_id=self.run_id, step_id=step_id, attempt=attempt + 1, error=error.message,
                                          wait=wait))
                self.sleep(wait)
                continue
            latency = (time.perf_counter() - started) * 1000
            step_id = self.store.save_step(StepRecord(index, request["model"], request, completion.response, tokens,
                                                      completion.usage, latency, purpose=purpose, state=state))
            self.publish(events.usage(run_id=self.run_id, step_id=step_id, step=index, purpose=purpose, tokens=tokens,
                                      usage=completion.usage, latency_ms=latency))
            return completion, step_id
        raise AssertionError("unreachable")

    # --- acting on the model's answer ---------------------------------------------------------

    def act(self, completion: Completion, step_id: int) -> str | None:
        """Store the answer and run its tool calls; returns the stop reason if the turn ends here."""
        notes = [self.rule_note] if self.rule_note else []
        if not completion.tool_calls:
            # weak models answer in plain text: that is the agent's message, and the turn ends
            self.append(MessageView(self.stream.message_id, "assistant", "assistant", completion.content,
                                    completion.content.strip()), step_id=step_id, streamed=self.stream)
            return self.end_or_go_on(step_id, notes, "no_tool_call")

        calls = [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                 for c in completion.tool_calls]
        spoken = [argument_of(c.arguments, "message") for c in completion.tool_calls if c.name == "send_message"]
        text = "\n\n".join(s for s in spoken if s) or events.thoughts_of(completion.content, calls)
        self.append(MessageView(self.stream.message_id, "assistant", "assistant", completion.content, text,
                                tool_calls=calls), step_id=step_id, streamed=self.stream)

        heartbeat, failed, ends = False, False, False
        waiting: list[dict] = []  # calls whose results are other agents' replies
        ctx = ToolContext(self.state, self.store, step_id, self.settings.page_size, self.now, self.tool_runner,
                          self.messenger)
        for call in completion.tool_calls:
            refusal = self.rules.refusal(call.name)
            if refusal:
                notes.append(refusal)
                outcome = ToolOutcome(status="Failed", message=refusal, heartbeat=True)
            else:
                outcome = execute(ctx, call.name, call.arguments, call.id)
                self.rules.record(call.name, outcome.message if isinstance(outcome.message, str) else "")
                if self.rules.ends_turn(call.name):
                    notes.append(f"exit_loop: {call.name} ends the turn")
                    ends = True
                elif self.rules.continues(call.name) and not outcome.heartbeat:
                    notes.append(f"continue_loop: the agent goes on after {call.name}")
                    outcome.heartbeat = True
            if outcome.waits_for is not None:
                waiting.append({"id": call.id, "name": call.name, "heartbeat": outcome.heartbeat, "runs": outcome.waits_for})
                continue
            self.record_result(call, outcome, step_id)
            heartbeat |= outcome.heartbeat
            failed |= outcome.failed
        if waiting:  # the turn waits for the replies (Turn.resume), holding nothing meanwhile
            self.suspension = Suspension(step_id, self.calls, self.steps, waiting, heartbeat, failed, ends, notes,
                                         [list(c) for c in self.rules.called])
            return None
        return self.after_calls(step_id, notes, heartbeat, failed, ends)

    def after_calls(self, step_id: int, notes: list[str], heartbeat: bool, failed: bool, ends: bool) -> str | None:
        """Every call of the step has its result: another step, or the end of the turn."""
        if heartbeat and not ends:
            reason = prompts.FAILED_REASON if failed else prompts.HEARTBEAT_REASON
            return self.go_on(step_id, notes, reason)
        return self.end_or_go_on(step_id, notes, "end_turn", exiting=ends)

    def go_on(self, step_id: int, notes: list[str], reason: str) -> None:
        """Another step: a heartbeat says why."""
        if notes:
            self.store.step_rules(step_id, notes)
        self.append(MessageView(None, "user", "heartbeat", prompts.heartbeat(reason, self.now()), reason), step_id=step_id)

    def end_or_go_on(self, step_id: int, notes: list[str], stop_reason: str, *, exiting: bool = False) -> str | None:
        """The turn ends here, unless a tool it must call first was not called (and no exit_loop tool ended it)."""
        missing = [] if exiting else self.rules.missing_before_exit()
        if missing:
            reason = f"Tool rule required_before_exit: call {', '.join(missing)} before you finish."
            notes.append(reason)
            return self.go_on(step_id, notes, reason)
        if notes:
            self.store.step_rules(step_id, notes)
        return stop_reason

    def record_result(self, call: ToolCall, outcome: ToolOutcome, step_id: int) -> None:
        message = outcome.message
        limit = max(MIN_RESULT_CHARS, self.state.context_window)  # about a quarter of the window, at ~4 characters a token
        if isinstance(message, str) and len(message) > limit:
            message = message[:limit] + f" [… {len(message) - limit} more characters cut: the result was too long]"
        content = prompts.tool_result(outcome.status, message, self.now())
        self.append(MessageView(None, "tool", "tool_result", content, str(message or ""), tool_call_id=call.id,
                                name=call.name), step_id=step_id)

    # --- memory pressure: evict the oldest part of the queue into a recursive summary --------------

    def flush(self, share: float | None = None) -> None:
        messages = self.state.messages
        cut = eviction_point(messages, self.state.evict_share if share is None else share)
        if cut == 0:
            raise TurnFailure(
                f"The context window of {self.state.context_window} tokens is full and no message can be evicted: "
                "core memory and instructions may be too large for it."
            )
        evicted, kept = messages[:cut], messages[cut:]
        previous = self.state.summary.text if self.state.summary else ""
        summary_text = self.summarize(previous, evicted)
        hidden = self.state.recall_count - len(kept)
        content = prompts.SUMMARY_NOTE.format(hidden=hidden, summary=summary_text)
        summary = self.store.evict([m.id for m in evicted], MessageView(None, "user", "summary", content, summary_text))
        self.state.messages = kept
        self.state.summary = summary
        self.announce([summary])

    def summarize(self, previous: str, evicted: list[MessageView]) -> str:
        transcript = "\n".join(_transcript_line(m) for m in evicted)
        request = {
            "model": self.state.model,
            "messages": [
                {"role": "system", "content": prompts.SUMMARY_INSTRUCTIONS.format(words=self.settings.summary_words)},
                {"role": "user", "content": f"Previous summary:\n{previous or '(none)'}\n\nMessages leaving the context:\n{transcript}"},
            ],
            "temperature": 0.2,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        try:
            completion, _ = self.call(request, {}, purpose="summary")
        except ProviderError as error:
            raise TurnFailure(f"The summary of evicted messages failed: {error.message}") from error
        return completion.content.strip() or previous


def request_body(state: AgentState, context: CompiledContext) -> dict[str, Any]:
    """An agent call's request, as it is sent."""
    request = {
        "model": state.model,
        "messages": context.messages,
        "temperature": state.temperature,
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    if context.tools:  # OpenAI refuses an empty list, and a tool_choice without tools
        request.update(tools=context.tools, tool_choice="auto")
    if state.completion_reserve > 0:  # what the window keeps free for the answer bounds the answer
        request["max_tokens"] = state.completion_reserve
    return request


def _ignore(delta: Delta) -> None:  # a summary's answer is not shown as it streams
    pass


def eviction_point(messages: list[MessageView], share: float) -> int:
    """How many of the oldest messages to evict: about `share` of them, never splitting a tool
    call from its results, and never the newest message (the event being answered)."""
    if len(messages) < 2:
        return 0
    target = min(max(1, int(len(messages) * share)), len(messages) - 1)
    cut = target
    while cut < len(messages) - 1 and messages[cut].role == "tool":
        cut += 1
    while cut > 0 and messages[cut].role == "tool":
        cut -= 1
    return cut


def _transcript_line(message: MessageView) -> str:
    stamp = message.created_at.strftime("%Y-%m-%d %H:%M") if message.created_at else ""
    if message.role == "assistant" and message.tool_calls:
        calls = "; ".join(f"{c['function']['name']}({c['function']['arguments']})" for c in message.tool_calls)
        return f"[{stamp}] assistant (thinking: {message.content.strip()}) called {calls}"
    if message.role == "tool":
        return f"[{stamp}] tool {message.name} returned: {message.text[:500]}"
    return f"[{stamp}] {message.role}: {message.text or message.content}"
