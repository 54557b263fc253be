"""Talk to an agent in the terminal, like the original MemGPT CLI. Works piped, too."""

import asyncio
import json
import sys
import threading

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from agents.engine.events import Event
from agents.events import agent_group, received
from agents.llm import LLMNotConfigured
from agents.models import Agent, Run
from agents.selectors import agent_context, agent_for_owner
from agents.services import (
    agent_create,
    agent_runs_process,
    exchange_undo,
    turn_enqueue,
)
from memory.broadcast import listen
from memory.management.users import command_user
from memory.models import Source
from memory.selectors import memory_templates
from memory.services import source_attach

HELP = "/memory  /dump  /pop  /heartbeat  /memorywarning  /attach SOURCE  /exit"
TRIGGERS = {"/heartbeat": Run.Trigger.HEARTBEAT, "/memorywarning": Run.Trigger.MEMORY_WARNING}


class Command(BaseCommand):
    help = "Chat with an agent in the terminal. Commands: " + HELP

    def add_arguments(self, parser):
        parser.add_argument("--agent", required=True, help="the agent's name")
        parser.add_argument("--create", action="store_true", help="create the agent if it does not exist")
        parser.add_argument("--persona", default="companion", help="persona template name (or text) for --create")
        parser.add_argument("--human", default="basic", help="human template name (or text) for --create")
        parser.add_argument("--user", help="whose agent (default: the first superuser)")
        parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for one turn")

    def handle(self, *args, agent, create, persona, human, user, timeout, **options):
        self.owner = command_user(user)
        try:
            self.agent = agent_for_owner(owner=self.owner, name=agent)
        except Agent.DoesNotExist:
            if not create:
                raise CommandError(f"no agent named {agent!r}; add --create to make it") from None
            self.agent = agent_create(owner=self.owner, name=agent, persona=self.template("persona", persona),
                                      human=self.template("human", human))
            self.say(f"created agent {agent!r}")
        self.timeout = timeout
        self.turn_over = threading.Event()
        self.thinking = False
        self.current_run: int | None = None
        listener = self.listen()
        self.say(f"chatting with {self.agent.name} ({HELP})")
        try:
            for line in sys.stdin:
                line = line.strip()
                if line == "/exit":
                    break
                if line:
                    self.command(line) if line.startswith("/") else self.turn(Run.Trigger.USER_MESSAGE, line)
        finally:
            self.closing = True
            listener.join(5)

    def template(self, kind: str, name: str) -> str:
        found = memory_templates(kind=kind, owner=self.owner).filter(name=name).first()
        return found.text if found else name

    # --- commands --------------------------------------------------------------------------------

    def command(self, line: str) -> None:
        name, _, argument = line.partition(" ")
        if name in TRIGGERS:
            self.turn(TRIGGERS[name], "")
        elif name == "/memory":
            context = agent_context(agent=self.agent)
            self.say(context.sections["core_memory"])
            self.say(context.sections["memory_metadata"])
        elif name == "/dump":
            context = agent_context(agent=self.agent)
            for message in context.messages[1:]:
                self.say(json.dumps(message, ensure_ascii=False))
            self.say(f"({context.prompt_tokens} tokens of {context.tokens['context_window']})")
        elif name == "/pop":
            self.say(f"removed {exchange_undo(agent=self.agent)} messages")
        elif name == "/attach":
            source = Source.objects.filter(owner=self.owner, name=argument.strip()).first()
            if source is None:
                self.say(f"no source named {argument.strip()!r}")
            else:
                try:
                    source_attach(source=source, agent=self.agent)
                except (ValueError, PermissionError) as error:
                    self.say(f"cannot attach {source.name}: {error}")
                else:
                    self.say(f"attached {source.name}")
        else:
            self.say(f"unknown command {name}; commands: {HELP}")

    def turn(self, trigger: str, text: str) -> None:
        try:
            run = turn_enqueue(agent=self.agent, trigger=trigger, text=text)
        except (LLMNotConfigured, ValueError) as error:
            self.say(str(error))
            return
        self.current_run = run.pk
        self.turn_over.clear()
        # run it here; a worker that also got the task finds the agent's lock taken, or nothing queued
        threading.Thread(target=self.process, daemon=True).start()
        if not self.turn_over.wait(self.timeout):
            self.say(f"(no answer within {self.timeout:.0f} s)")

    def process(self) -> None:
        try:
            agent_runs_process(agent_id=self.agent.pk)
        finally:
            connection.close()  # this thread's own connection

    # --- events ----------------------------------------------------------------------------------

    def listen(self) -> threading.Thread:
        ready = threading.Event()
        self.closing = False

        async def receive():
            async with listen(agent_group(self.agent.pk)) as listener:
                ready.set()
                while not self.closing:
                    if (message := await listener.receive(0.5)) is not None:
                        self.show(received(message))

        thread = threading.Thread(target=lambda: asyncio.run(receive()), daemon=True)
        thread.start()
        ready.wait(10)
        return thread

    def show(self, event: Event) -> None:
        kind = event.kind
        if event["run_id"] != self.current_run:
            return
        if kind == "reasoning_delta":
            if not self.thinking:
                self.stdout.write("  thinking: ", ending="")
                self.thinking = True
            self.stdout.write(event["delta"], ending="")
            return self.stdout.flush()
        if self.thinking:  # the streamed thought is complete
            self.stdout.write("")
            self.thinking = False
        if kind == "tool_call":
            self.say(f"  ⚙ {event['name']}({event['arguments']})")
        elif kind == "tool_result" and not (event["name"] == "send_message" and event["status"] == "OK"):
            message = event["message"]
            self.say(f"  → {event['status']}" + (f": {message[:300]}" if message else ""))
        elif kind == "memory_change":
            self.say(f"  ✎ {event['label']} is now {event['chars']}/{event['limit']} characters")
        elif kind == "assistant_message":
            self.say(f"{self.agent.name}: {event['text']}")
        elif kind == "system_alert" and event["kind"] == "system_alert":
            self.say(f"  ! {event['text']}")
        elif kind == "summary":
            self.say("  ! older messages were evicted into the summary")
        elif kind == "retry":
            self.say(f"  … {event['error']}; retrying in {event['wait']:.1f} s")
        elif kind == "error":
            self.say(f"error: {event['message']}")
        elif kind == "stop":
            self.turn_over.set()
        self.stdout.flush()

    def say(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()
