"""Agents reaching each other: the messages between the agents of one person, and the replies that
end a wait.

A message queues a turn on the recipient (a Run with trigger agent_message) that knows the run and
step that sent it. A sender that waits for the reply does not hold its worker: its turn stops with
a Suspension stored on its run ("waiting"), and the recipient's run, when it ends, queues the
sender's agent again; its runner resumes the turn with the replies as the waiting calls' results
(agents.services.run_resume). A wait ends with what came when AGENT_REPLY_TIMEOUT_SECONDS have
passed, or when the waiting run is cancelled.

Turns of one agent never interleave, so an agent that waits cannot answer anyone meanwhile: a wait
that would close a cycle (A waits for B, which waits, maybe through others, for A) would never end,
and is refused. The check and the new wait happen under one lock per owner, so two agents cannot
start waiting for each other at the same moment.
"""

import json
import re
from collections import deque

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from agents.engine.tools import ToolOutcome, argument_of
from agents.engine.types import Delivery, MessageRefused, Suspension
from agents.errors import MessageTooLong
from agents.llm import LLMNotConfigured
from agents.models import RUN_UNFINISHED as UNFINISHED
from agents.models import Agent, Group, Run
from memory.models import Message

WAIT_LOCK_CLASS = 0x4D57  # "MW": the first key of the advisory lock that serializes an owner's new waits
AGENT_ID = re.compile(r"^agent-(\d{1,18})$")
COLLECTING_TOOLS = ("send_message_to_agents_matching_tags", "send_message_to_all_agents_in_group")  # every reply, listed


def agent_id(pk: int) -> str:
    """An agent as the model and the API name it."""
    return f"agent-{pk}"


def _named(agent: Agent) -> str:
    return f"{agent.name} ({agent_id(agent.pk)})"


class DjangoMessenger:
    """The engine's Messenger for one run: it reaches the other agents of the run's owner, and no one else's."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.agent = run.agent

    def _reachable(self):
        return Agent.objects.filter(owner_id=self.agent.owner_id)

    def _recipient(self, ref: str) -> Agent:
        ref = ref.strip()
        match = AGENT_ID.match(ref)
        found = list(self._reachable().filter(pk=int(match[1])) if match else self._reachable().filter(name=ref)[:2])
        if len(found) == 2:
            raise MessageRefused(f"Several agents are named {ref!r}: give the id of one, such as 'agent-12'.")
        if not found:
            raise MessageRefused(f"No agent {ref[:100]!r} that you can reach: give an id, such as 'agent-12', or the "
                                 "exact name of one agent.")
        return found[0]

    def tagged(self, match_all: list[str], match_some: list[str]) -> list[str]:
        agents = self._reachable().filter(tags__contains=match_all).exclude(pk=self.agent.pk)
        if match_some:
            agents = agents.filter(tags__overlap=match_some)
        return [agent_id(pk) for pk in agents.order_by("pk").values_list("pk", flat=True)]

    def group_members(self) -> list[str]:
        turn = self.run.group_turn
        if turn is None or turn.group.kind != Group.Kind.SUPERVISOR or turn.group.manager_id != self.agent.pk:
            return []
        members = turn.group.memberships.exclude(agent_id=self.agent.pk).order_by("position")
        return [agent_id(pk) for pk in members.values_list("agent_id", flat=True)]

    def chain(self) -> list[Run]:
        """The runs whose messages led to this one, the first (a person's message, say) first."""
        runs, run = [], self.run
        while run is not None and len(runs) <= settings.AGENT_MESSAGE_MAX_DEPTH:
            runs.append(run)
            run = Run.objects.select_related("agent").filter(pk=run.parent_run_id).first() if run.parent_run_id else None
        return runs[::-1]

    def send(self, recipients: list[str], text: str, *, wait: bool, step_id: int | None, call_id: str) -> list[Delivery]:
        from agents.services import turn_enqueue  # the services run turns through this messenger

        agents = list({agent.pk: agent for agent in map(self._recipient, recipients)}.values())
        if any(agent.pk == self.agent.pk for agent in agents):
            raise MessageRefused(f"{_named(self.agent)} cannot send a message to itself.")
        fanout = settings.AGENT_MESSAGE_MAX_FANOUT
        if len(agents) > fanout:
            raise MessageRefused(f"The message would reach {len(agents)} agents; one message reaches {fanout} at most "
                                 "(AGENT_MESSAGE_MAX_FANOUT). Narrow the tags, or send it in parts.")
        chain = self.chain()
        depth = settings.AGENT_MESSAGE_MAX_DEPTH
        if len(chain) + 1 > depth:
            path = " → ".join(_named(run.agent) for run in chain)
            raise MessageRefused(f"Messages between agents go {depth} deep at most (AGENT_MESSAGE_MAX_DEPTH), and this "
                                 f"one would be {len(chain) + 1} deep: {path} → {agents[0].name}. Answer with what "
                                 "you have.")
        with transaction.atomic():
            if wait:
                self._refuse_cycles(agents)
            delivered = []
            for agent in agents:
                try:
                    run = turn_enqueue(agent=agent, trigger=Run.Trigger.AGENT_MESSAGE, text=text, parent_run=self.run,
                                       parent_step_id=step_id, tool_call_id=call_id, awaited=wait,
                                       group_turn_id=self.run.group_turn_id)
                except (MessageTooLong, LLMNotConfigured, ValueError) as error:
                    raise MessageRefused(f"{_named(agent)} cannot take this message: {error}") from error
                delivered.append(Delivery(agent.pk, agent.name, run.pk))
        return delivered

    def _refuse_cycles(self, agents: list[Agent]) -> None:
        """Refuse a wait for an agent that waits already, directly or through others, for this one."""
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [WAIT_LOCK_CLASS, self.agent.owner_id])
        waits: dict[int, set[int]] = {}  # agent -> the agents it waits for
        for waiter, awaited in (Run.objects.filter(agent__owner_id=self.agent.owner_id, awaited=True,
                                                    status__in=UNFINISHED, parent_run__isnull=False)
                                .values_list("parent_run__agent_id", "agent_id")):
            waits.setdefault(waiter, set()).add(awaited)
        for agent in agents:
            path = _path(waits, agent.pk, self.agent.pk)
            if path is not None:
                names = dict(Agent.objects.filter(pk__in=path).values_list("pk", "name"))
                cycle = " → ".join(f"{names[pk]} ({agent_id(pk)})" for pk in [self.agent.pk, *path])
                raise MessageRefused(f"Refused: waiting for {agent.name} would close the cycle {cycle}. {agent.name} "
                                     f"waits already for {self.agent.name}, so neither wait would end. Send the "
                                     "message with send_message_to_agent_async instead, or answer first.")


def _path(waits: dict[int, set[int]], start: int, goal: int) -> list[int] | None:
    """The agents from `start` to `goal` along the waits, both ends included; None if there is no such path."""
    came_from: dict[int, int | None] = {start: None}
    queue = deque([start])
    while queue:
        node = queue.popleft()
        if node == goal:
            path = []
            while node is not None:
                path.append(node)
                node = came_from[node]
            return path[::-1]
        for following in sorted(waits.get(node, ())):
            if following not in came_from:
                came_from[following] = node
                queue.append(following)
    return None


# --- the end of a wait -----------------------------------------------------------------------------


def wait_over(run: Run) -> bool:
    """Whether a waiting run can go on: every reply came, its time is up, or it was cancelled."""
    return (run.stop_reason == Run.StopReason.CANCELLED or (run.waiting_until is not None and run.waiting_until <= timezone.now())
            or not Run.objects.filter(parent_run=run, awaited=True, status__in=UNFINISHED).exists())


def reply_of(run: Run) -> str:
    """What an agent answered in a turn: what it said with send_message (or as plain text)."""
    said = []
    for message in Message.objects.filter(run=run, kind=Message.Kind.ASSISTANT).order_by("id"):
        if not message.tool_calls:
            said.append(message.text)
        said += [spoken for call in message.tool_calls or () if call["function"]["name"] == "send_message"
                 if (spoken := argument_of(call["function"]["arguments"], "message"))]
    return "\n\n".join(s for s in said if s.strip())


def _answer(child: Run | None, cancelled: bool) -> tuple[bool, dict]:
    """One recipient's answer: (whether it failed, what the waiting agent reads)."""
    if child is None:
        return True, {"error": "The agent was deleted before it answered."}
    who = {"agent_id": agent_id(child.agent_id), "name": child.agent.name}
    if child.status == Run.Status.COMPLETED:
        reply = reply_of(child)
        return False, {**who, "reply": reply} if reply else {**who, "reply": "", "note": "It ended its turn without a reply."}
    if child.status == Run.Status.FAILED:
        return True, {**who, "error": f"Its turn failed: {child.error}"}
    if child.status == Run.Status.CANCELLED:
        return True, {**who, "error": "Its turn was cancelled."}
    if cancelled:
        return True, {**who, "error": "The wait was cancelled before it answered."}
    return True, {**who, "error": f"No reply within {settings.AGENT_REPLY_TIMEOUT_SECONDS:.0f} s "
                                  "(AGENT_REPLY_TIMEOUT_SECONDS). Its turn goes on, but its answer will not reach you."}


def replies(run: Run, suspension: Suspension) -> dict[str, ToolOutcome]:
    """The results of a resumed run's waiting calls, by call id, from the turns they started. The
    turns still going on are awaited no more."""
    awaited = [pk for call in suspension.waiting for pk in call["runs"]]
    children = Run.objects.select_related("agent").in_bulk(awaited)
    cancelled = run.stop_reason == Run.StopReason.CANCELLED
    results = {}
    for call in suspension.waiting:
        answers = [_answer(children.get(pk), cancelled) for pk in call["runs"]]
        failed = any(f for f, _ in answers)
        if call["name"] in COLLECTING_TOOLS:
            results[call["id"]] = ToolOutcome(status="OK", message=json.dumps([a for _, a in answers], ensure_ascii=False),
                                              heartbeat=failed)
            continue
        failed, answer = answers[0]
        if failed:
            results[call["id"]] = ToolOutcome(status="Failed", message=f"{answer.get('name', 'The agent')}: {answer['error']}",
                                              heartbeat=True)
        else:
            results[call["id"]] = ToolOutcome(status="OK", message=answer["reply"] or f"{answer['name']}: {answer['note']}")
    Run.objects.filter(parent_run=run, awaited=True).update(awaited=False)
    return results


def sender_of(run: Run) -> dict:
    """Who sent the message that started a run, as the recipient is told."""
    parent = Run.objects.select_related("agent").filter(pk=run.parent_run_id).first() if run.parent_run_id else None
    if parent is None:
        return {"id": "", "name": "an agent since deleted", "waits": False}
    return {"id": agent_id(parent.agent_id), "name": parent.agent.name, "waits": run.awaited}


def run_ended(run: Run) -> None:
    """A run ended: the runs it waited for are awaited no more, and the run that waits for it (if
    any) is woken, once this is committed."""
    from agents.tasks import process_runs

    Run.objects.filter(parent_run=run, awaited=True).update(awaited=False)
    if run.awaited and run.parent_run_id:
        waiter = Run.objects.filter(pk=run.parent_run_id, status=Run.Status.WAITING).values_list("agent_id", flat=True).first()
        if waiter is not None:
            transaction.on_commit(lambda: process_runs.delay(waiter), robust=True)  # Redis down: the sweep wakes it
