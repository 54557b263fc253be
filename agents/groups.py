"""Groups of agents that answer together, after Letta's multi-agent groups.

- round robin: a person's message goes to each member in turn (`max_turns` answers, by default one
  each); each gets, as a group message, what was said since it last spoke (the person's message,
  the others' answers) and answers the group.
- supervisor: the message goes to the manager, whose tool send_message_to_all_agents_in_group
  hands it to the members and collects their replies (agents/messaging.py: a wait that holds no
  worker); the manager answers.
- sleep-time: the message goes to the manager, the primary agent. After every
  `sleeptime_frequency` of its turns, or once it has been quiet `sleeptime_quiet_seconds`, each
  member (a sleep-time agent sharing its blocks) runs over the messages it has not seen yet and
  reorganises the shared blocks; its edits are block revisions of its own steps.

A person's message to a group is a GroupTurn; every run it leads to (members' answers, the
supervisor's messages) carries it, so the group's page and API gather them.
"""

import json
import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from agents.engine.tools import BASE_TOOL_NAMES
from agents.llm import LLMNotConfigured
from agents.messaging import agent_id, reply_of
from agents.models import RUN_UNFINISHED as UNFINISHED
from agents.models import Agent, Group, GroupMember, GroupTurn, Run, Tool
from memory.models import Block, Message

logger = logging.getLogger(__name__)

PERSON = "the person"
SUPERVISOR_TOOL = "send_message_to_all_agents_in_group"
DEFAULT_SLEEPTIME_FREQUENCY = 5


def group_id(pk: int) -> str:
    return f"group-{pk}"


def _name(group: Group) -> str:
    return group.description or f"{group.get_kind_display()} group {group.pk}"


def _check(owner, kind: str, members: list[Agent], manager: Agent | None, max_turns: int | None) -> None:
    if kind not in Group.Kind.values:
        raise ValueError(f"unknown group kind {kind!r}: {', '.join(Group.Kind.values)}")
    if any(agent.owner_id != owner.pk for agent in [*members, *([manager] if manager else [])]):
        raise ValueError("a group is made of your own agents")
    if len({a.pk for a in members}) != len(members):
        raise ValueError("an agent is in the group twice")
    if not members:
        raise ValueError("a group needs at least one agent")
    if kind in (Group.Kind.SUPERVISOR, Group.Kind.SLEEPTIME):
        if manager is None:
            raise ValueError(f"a {kind} group needs its manager agent (manager_agent_id)")
        if manager.pk in {a.pk for a in members}:
            raise ValueError("the manager is not one of the group's agents")
    if max_turns is not None and not 1 <= max_turns <= settings.GROUP_MAX_TURNS:
        raise ValueError(f"max_turns is between 1 and {settings.GROUP_MAX_TURNS} (GROUP_MAX_TURNS)")


def group_create(*, owner, kind: str, members: list[Agent], description: str = "", manager: Agent | None = None,
                 max_turns: int | None = None, shared_blocks: list[Block] | None = None,
                 sleeptime_frequency: int | None = None, sleeptime_quiet_seconds: float | None = None) -> Group:
    """A group of the owner's agents. `shared_blocks` are attached to every agent of it; a
    supervisor gets the tool that messages the group. A sleep-time group's agents get the base tools
    and share the primary agent's blocks (the `shared_blocks`, or all but its persona): a block of
    their own with the same label leaves their core memory for it."""
    from agents.services import block_attach, block_detach

    _check(owner, kind, members, manager, max_turns)
    if kind == Group.Kind.SLEEPTIME and not sleeptime_quiet_seconds:
        sleeptime_frequency = sleeptime_frequency or DEFAULT_SLEEPTIME_FREQUENCY
    with transaction.atomic():
        group = Group.objects.create(owner=owner, kind=kind, description=description, manager=manager,
                                     max_turns=max_turns, sleeptime_frequency=sleeptime_frequency,
                                     sleeptime_quiet_seconds=sleeptime_quiet_seconds)
        GroupMember.objects.bulk_create(GroupMember(group=group, agent=a, position=i) for i, a in enumerate(members))
        everyone = [*members, *([manager] if manager else [])]
        blocks = list(shared_blocks or [])
        if kind == Group.Kind.SLEEPTIME and not blocks:
            blocks = list(Block.objects.filter(blockattachment__agent=manager).exclude(label="persona")
                          .order_by("blockattachment__position"))
        for block in blocks:
            for agent in everyone:
                if agent.blocks.filter(pk=block.pk).exists():
                    continue
                if kind == Group.Kind.SLEEPTIME and agent != manager:
                    for own in agent.blocks.filter(label=block.label):
                        block_detach(block=own, agent=agent, delete_if_unused=True)
                block_attach(block=block, agent=agent)
        if kind == Group.Kind.SUPERVISOR:
            manager.tools.add(Tool.objects.get(kind=Tool.Kind.BUILTIN, name=SUPERVISOR_TOOL))
        if kind == Group.Kind.SLEEPTIME:
            for agent in members:
                agent.tools.add(*Tool.objects.filter(kind=Tool.Kind.BUILTIN, name__in=BASE_TOOL_NAMES))
            group.last_processed_message_id = Message.objects.filter(agent=manager).aggregate(last=Max("id"))["last"]
            group.save(update_fields=["last_processed_message_id"])
    return group


GROUP_EDITABLE = ("description", "max_turns", "sleeptime_frequency", "sleeptime_quiet_seconds")


def group_update(*, group: Group, members: list[Agent] | None = None, manager: Agent | None = None,
                 **changes) -> Group:
    if unknown := set(changes) - set(GROUP_EDITABLE):
        raise ValueError(f"not editable: {', '.join(sorted(unknown))}")
    new_members = members if members is not None else list(group_members(group))
    _check(group.owner, group.kind, new_members, manager or group.manager, changes.get("max_turns", group.max_turns))
    with transaction.atomic():
        if members is not None:
            group.memberships.all().delete()
            GroupMember.objects.bulk_create(GroupMember(group=group, agent=a, position=i) for i, a in enumerate(members))
        if manager is not None and manager.pk != group.manager_id:
            if group.kind == Group.Kind.SUPERVISOR:
                manager.tools.add(Tool.objects.get(kind=Tool.Kind.BUILTIN, name=SUPERVISOR_TOOL))
            group.manager = manager
        for name, value in changes.items():
            setattr(group, name, value)
        group.save()
    return group


def group_delete(*, group: Group) -> None:
    """The group goes; its agents, their memory and conversations stay."""
    group.delete()


def group_members(group: Group) -> list[Agent]:
    return [m.agent for m in group.memberships.select_related("agent").order_by("position")]


# --- a person's message to a group ----------------------------------------------------------------


def group_send(*, group: Group, text: str) -> GroupTurn:
    """Give the group a person's message: to its first agent (round robin) or its manager."""
    from agents.services import turn_enqueue

    if not text.strip():
        raise ValueError("the message is empty")
    members = group_members(group)
    if not members:
        raise ValueError("the group has no agents left: add some, or delete it")
    with transaction.atomic():
        turn = GroupTurn.objects.create(group=group, input=text)
        if group.kind == Group.Kind.ROUND_ROBIN:
            turn_enqueue(agent=members[0], trigger=Run.Trigger.GROUP_MESSAGE, group_turn_id=turn.pk,
                         text=json.dumps([{"from": PERSON, "text": text}], ensure_ascii=False))
        else:
            turn_enqueue(agent=group.manager, text=text, group_turn_id=turn.pk)
    return turn


def group_event_sender(run: Run) -> dict:
    """How a group's run's event names its group."""
    group = run.group_turn.group
    return {"id": group_id(group.pk), "name": _name(group)}


def _spoken(turn: GroupTurn) -> list[Run]:
    return list(turn.runs.filter(trigger=Run.Trigger.GROUP_MESSAGE).select_related("agent").order_by("id"))


def _utterance(run: Run) -> str:
    if run.status == Run.Status.COMPLETED:
        return reply_of(run) or "(no answer)"
    return f"(no answer: its turn {run.status}{': ' + run.error if run.error else ''})"


def _answers(group: Group, members: int) -> int:
    """How many answers a person's message to a round-robin group gets."""
    return group.max_turns or members


def _next_speaker(run: Run) -> None:
    """After a member of a round-robin group answered: the next one, with what was said since it last spoke."""
    from agents.services import turn_enqueue

    turn = run.group_turn
    group = turn.group
    members = group_members(group)
    spoken = _spoken(turn)
    if not members or len(spoken) >= _answers(group, len(members)):
        return
    speaker = members[len(spoken) % len(members)]
    said = [(None, PERSON, turn.input)] + [(r.agent_id, r.agent.name, _utterance(r)) for r in spoken]
    last_own = max((i for i, (pk, _, _) in enumerate(said) if pk == speaker.pk), default=-1)
    news = json.dumps([{"from": name if pk is None else f"{name} ({agent_id(pk)})", "text": text}
                       for pk, name, text in said[last_own + 1:]], ensure_ascii=False)
    try:
        turn_enqueue(agent=speaker, trigger=Run.Trigger.GROUP_MESSAGE, group_turn_id=turn.pk, text=news)
    except (LLMNotConfigured, ValueError) as error:  # no model configured; what was said is too long for its window
        logger.warning("group %s: %s could not take its turn", group.pk, speaker.name, exc_info=True)
        skipped = Run.objects.create(agent=speaker, trigger=Run.Trigger.GROUP_MESSAGE, group_turn=turn, input=news,
                                     status=Run.Status.FAILED, stop_reason=Run.StopReason.ERROR, finished_at=timezone.now(),
                                     error=f"It could not take its turn: {error}")
        _next_speaker(skipped)


def turn_finished(turn: GroupTurn) -> bool:
    """Whether everything a person's message to a group led to has ended."""
    group = turn.group
    if group.kind == Group.Kind.ROUND_ROBIN:
        members = group.memberships.count()
        # counted before the unfinished runs are looked for: a member's run queued after this count (as the
        # one before it ends) is then seen unfinished, where counted after it would have been missed
        if members and turn.runs.filter(trigger=Run.Trigger.GROUP_MESSAGE).count() < _answers(group, members):
            return False
    return not turn.runs.filter(status__in=UNFINISHED).exists()


def turn_runs(turn: GroupTurn) -> list[Run]:
    return list(turn.runs.select_related("agent").order_by("id"))


# --- sleep-time agents ------------------------------------------------------------------------------


def _transcript(agent: Agent, after: int | None) -> tuple[str, int | None]:
    """What the agent and the others said since message `after`: the text and the newest message's id."""
    messages = Message.objects.filter(agent=agent, kind__in=[Message.Kind.USER_MESSAGE, Message.Kind.AGENT_MESSAGE,
                                                             Message.Kind.GROUP_MESSAGE, Message.Kind.ASSISTANT])
    if after is not None:
        messages = messages.filter(pk__gt=after)
    rows = list(messages.order_by("id").only("id", "role", "text", "created_at")[:settings.SLEEPTIME_MAX_MESSAGES])
    lines = [f"[{m.created_at:%Y-%m-%d %H:%M}] {'user' if m.role == 'user' else agent.name}: {m.text}"
             for m in rows if m.text.strip()]
    return "\n".join(lines), (rows[-1].pk if rows else None)


def sleeptime_run(group: Group) -> list[Run]:
    """Queue each sleep-time agent's turn over the primary agent's messages it has not seen; none if
    there are none, or if their last turns have not ended."""
    from agents.services import turn_enqueue

    with transaction.atomic():
        group = Group.objects.select_for_update().get(pk=group.pk)
        members = group_members(group)
        if Run.objects.filter(agent__in=members, trigger=Run.Trigger.SLEEPTIME, status__in=UNFINISHED).exists():
            return []  # they are at it: the next time takes what is new by then
        transcript, last = _transcript(group.manager, group.last_processed_message_id)
        if last is None:
            return []
        primary_run = group.manager.runs.order_by("-id").first()  # the run it follows: its parent
        runs = [turn_enqueue(agent=agent, trigger=Run.Trigger.SLEEPTIME, text=transcript, parent_run=primary_run)
                for agent in members]
        group.last_processed_message_id = last
        group.save(update_fields=["last_processed_message_id"])
    return runs


def sleeptime_due(run: Run) -> None:
    """After a turn of a primary agent: its sleep-time agents run if this was the Nth turn, and a
    check is due when a quiet period would end."""
    from agents.tasks import sleeptime_check

    if run.trigger == Run.Trigger.SLEEPTIME or run.status != Run.Status.COMPLETED:
        return
    for group in Group.objects.filter(manager_id=run.agent_id, kind=Group.Kind.SLEEPTIME):
        Group.objects.filter(pk=group.pk).update(turns_counter=group.turns_counter + 1)
        if group.sleeptime_frequency and (group.turns_counter + 1) % group.sleeptime_frequency == 0:
            sleeptime_run(group)
        if group.sleeptime_quiet_seconds:
            transaction.on_commit(lambda g=group: sleeptime_check.apply_async((g.pk,), countdown=g.sleeptime_quiet_seconds),
                                  robust=True)


SLEEPTIME_PERSONA = ("I am the sleep-time memory agent of {name}. I never talk to anyone: while {name} rests I read "
                     "its new conversations and keep the memory we share tidy, complete and within its limits.")


def sleeptime_companion(*, agent: Agent, frequency: int | None = None) -> Group:
    """Letta's enable_sleeptime: a sleep-time agent for `agent` ("<name>-sleeptime", the same model),
    in a sleep-time group that agent manages."""
    from agents.services import agent_create

    with transaction.atomic():
        companion = agent_create(owner=agent.owner, name=f"{agent.name}-sleeptime", model=agent.model,
                                 embedding_model=agent.embedding_model, context_window=agent.context_window,
                                 tags=["sleeptime"], description=f"The sleep-time memory agent of {agent.name}.",
                                 blocks=[{"label": "persona", "value": SLEEPTIME_PERSONA.format(name=agent.name)}])
        return group_create(owner=agent.owner, kind=Group.Kind.SLEEPTIME, members=[companion], manager=agent,
                            description=f"{agent.name} and its sleep-time agent", sleeptime_frequency=frequency)


def sleeptime_if_quiet(group_pk: int) -> list[Run]:
    """The quiet-period check: the sleep-time agents run if the primary agent has been quiet long enough."""
    group = Group.objects.filter(pk=group_pk, kind=Group.Kind.SLEEPTIME).select_related("manager").first()
    if group is None or not group.sleeptime_quiet_seconds:
        return []
    last = Message.objects.filter(agent=group.manager).order_by("-id").values_list("created_at", flat=True).first()
    quiet_since = timezone.now() - timedelta(seconds=group.sleeptime_quiet_seconds)
    if last is None or last > quiet_since or group.manager.runs.filter(status__in=UNFINISHED).exists():
        return []  # spoken since: the check its last turn queued comes later
    return sleeptime_run(group)


# --- the end of a run --------------------------------------------------------------------------------


def run_ended(run: Run) -> None:
    """A run ended: the next member of its round-robin group speaks, and its agent's sleep-time agents
    may run. Nothing here keeps the run from ending: a failure is logged."""
    try:
        if run.group_turn_id and run.trigger == Run.Trigger.GROUP_MESSAGE and \
                run.group_turn.group.kind == Group.Kind.ROUND_ROBIN:
            _next_speaker(run)
        sleeptime_due(run)
    except Exception:
        logger.exception("what follows run %s in its groups failed", run.pk)
