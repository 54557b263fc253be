"""Scheduled wake-ups: a message or a heartbeat queued as a turn of an agent at a time, on an interval
or on a cron expression (in UTC), made by a person (the agent page, the API) or by the agent itself
(the schedule_wakeup tool). Writes and reads, and the Celery beat scheduler that fires them.

The table is the schedule: beat (`celery -A playground beat`, started and supervised by `up`) asks
it every SCHEDULE_POLL_SECONDS, and sleeps exactly until the next wake-up it knows of, for the ones
that are due, and sends a task for each (agents.fire_schedule). The task claims the wake-up in one
transaction: only while it is still active and due at the time it was sent for does it queue the
turn (turn_enqueue: a turn under way finishes first) and move it on (a one-time one ends), so a
message sent twice, by a beat started again or by a second beat, queues one turn. A wake-up whose
task was lost is sent again after RESEND_SECONDS; one of a deleted agent went with it.
"""

import logging
import math
import time
from datetime import datetime, timedelta, timezone as dt_timezone

import psycopg
from celery import beat
from croniter import croniter
from django.conf import settings
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from agents.engine.tools import interval_seconds
from agents.engine.types import ScheduleRefused
from agents.llm import LLMNotConfigured
from agents.models import Agent, Run, ScheduledMessage

logger = logging.getLogger(__name__)

BEAT_LOCK = (0x5343, 0)  # "SC": the advisory lock of the one beat that sends wake-ups
RESEND_SECONDS = 30.0  # a due wake-up whose task has not claimed it by then is sent again
MAX_TEXT_CHARS = 10_000  # a heartbeat's reason, an agent's note to itself
MACROS = {"@hourly": "0 * * * *", "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@weekly": "0 0 * * 0",
          "@monthly": "0 0 1 * *", "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *"}
WOKEN = "[This is an automated system message hidden from the user] "

Kind, Status = ScheduledMessage.Kind, ScheduledMessage.Status


# --- times ---------------------------------------------------------------------------------------


def duration_text(seconds: int) -> str:
    """300 -> "5m", 5400 -> "1h30m": the shortest spelling interval_seconds reads back."""
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            parts.append(f"{seconds // size}{unit}")
            seconds %= size
    return "".join(parts) or "0s"


def cron_expression(text: str) -> tuple[str, int | None]:
    """A recurring schedule as Letta's API spells it: five cron fields (minute hour day month weekday,
    in UTC), a macro (@hourly, @daily, ...), or ours, "@every 5m": (cron, None) or ("", seconds)."""
    text = " ".join(str(text).split())
    if text.lower().startswith("@every "):
        return "", interval_seconds(text[len("@every "):])
    cron = MACROS.get(text.lower(), text)
    if len(cron.split()) != 5 or not croniter.is_valid(cron):
        raise ValueError(f"{text[:100]!r} is not a cron expression: five fields (minute hour day month weekday, "
                         "in UTC) such as '0 9 * * mon-fri', a macro such as '@daily', or '@every 5m'")
    return cron, None


def cron_next(cron: str, after: datetime) -> datetime:
    return croniter(cron, after.astimezone(dt_timezone.utc)).get_next(datetime)


def next_after(schedule: ScheduledMessage, moment: datetime) -> datetime | None:
    """When the wake-up comes next after `moment`; None for a one-time one. An interval keeps its
    beat: times missed while nothing ran are skipped, not caught up."""
    if schedule.cron:
        return cron_next(schedule.cron, moment)
    if schedule.every_seconds:
        step = timedelta(seconds=schedule.every_seconds)
        base = schedule.next_run_at or moment
        if base > moment:
            return base
        return base + step * (int((moment - base) / step) + 1)
    return None


def _check_gap(cron: str, minimum: float) -> None:
    """A cron expression may not fire more often than the interval limit (its next hundred times)."""
    moment = cron_next(cron, timezone.now())
    for _ in range(100):
        following = cron_next(cron, moment)
        if (following - moment).total_seconds() < minimum:
            raise ScheduleRefused(f"{cron!r} fires more often than every {duration_text(int(minimum))} "
                                  "(SCHEDULE_MIN_INTERVAL_SECONDS)")
        moment = following


# --- writes -------------------------------------------------------------------------------------


def schedule_create(*, agent: Agent, kind: str, text: str, at: datetime | None = None, every_seconds: int | None = None,
                    cron: str = "", note: str = "", options: dict | None = None, user=None,
                    step_id: int | None = None) -> ScheduledMessage:
    """A wake-up of the agent: a message (`text`, a user message) or a heartbeat (`text`, its
    reason; `note`, the agent's own words for when it wakes) at `at`, every `every_seconds` (first
    at `at`, or one interval from now), or on `cron`. Made by a person (`user`) or by the agent at a
    step (`step_id`). ScheduleRefused (a ValueError), in words for whoever asked: a time past, an
    interval under SCHEDULE_MIN_INTERVAL_SECONDS, SCHEDULES_MAX_PER_AGENT reached."""
    now = timezone.now()
    if kind not in Kind.values:
        raise ScheduleRefused(f"unknown kind {kind!r}: message or heartbeat")
    limit = settings.MESSAGE_MAX_CHARS if kind == Kind.MESSAGE else MAX_TEXT_CHARS
    if not text.strip():
        raise ScheduleRefused("the message is empty" if kind == Kind.MESSAGE else "give the reason for the wake-up")
    if len(text) > limit or len(note) > MAX_TEXT_CHARS:
        raise ScheduleRefused(f"the text has {max(len(text), len(note))} characters; the limit is "
                              f"{limit if len(text) > limit else MAX_TEXT_CHARS}")
    if cron and (at or every_seconds):
        raise ScheduleRefused("a cron expression takes no start time or interval of its own")
    if not (cron or at or every_seconds):
        raise ScheduleRefused("say when: a time, an interval, or a cron expression")
    if at is not None:
        if timezone.is_naive(at):
            raise ScheduleRefused("the time needs its time zone (say 2026-01-02T09:00:00Z for UTC)")
        if at <= now:
            raise ScheduleRefused(f"{at.isoformat()} is past (it is {now.isoformat(timespec='seconds')} now)")
    minimum = settings.SCHEDULE_MIN_INTERVAL_SECONDS
    if every_seconds is not None and every_seconds < minimum:
        raise ScheduleRefused(f"an interval of {duration_text(every_seconds)} is too short: the shortest is "
                              f"{duration_text(int(minimum))} (SCHEDULE_MIN_INTERVAL_SECONDS)")
    if cron:
        cron, _ = cron_expression(cron)
        _check_gap(cron, minimum)
    first = at or (cron_next(cron, now) if cron else now + timedelta(seconds=every_seconds))
    with transaction.atomic():
        Agent.objects.select_for_update().filter(pk=agent.pk).first()  # one count at a time per agent
        held = ScheduledMessage.objects.filter(agent=agent, status=Status.ACTIVE).count()
        if held >= settings.SCHEDULES_MAX_PER_AGENT:
            raise ScheduleRefused(f"{agent.name} holds {held} scheduled wake-ups already, the most it may "
                                  f"(SCHEDULES_MAX_PER_AGENT); cancel one first")
        return ScheduledMessage.objects.create(
            agent=agent, kind=kind, text=text, note=note, at=at, every_seconds=every_seconds, cron=cron,
            options=options or {}, next_run_at=first, created_by=user, created_by_step_id=step_id,
            actor=ScheduledMessage.Actor.AGENT if step_id is not None else ScheduledMessage.Actor.USER)


def schedule_cancel(*, schedule: ScheduledMessage) -> bool:
    """Cancel an active wake-up; False if it had ended (fired or cancelled) already."""
    return bool(ScheduledMessage.objects.filter(pk=schedule.pk, status=Status.ACTIVE).update(
        status=Status.CANCELLED, next_run_at=None, ended_at=timezone.now()))


def wakeup_text(schedule: ScheduledMessage) -> str:
    """What the turn's event says: the message itself, or a heartbeat's reason, with who asked for it."""
    if schedule.kind == Kind.MESSAGE:
        return schedule.text
    if schedule.actor == ScheduledMessage.Actor.AGENT:
        note = f" Your note for now: {schedule.note}" if schedule.note else ""
        return f"{WOKEN}A wake-up you scheduled has come. Reason: {schedule.text}.{note}"
    return f"{WOKEN}A scheduled wake-up has come. Reason: {schedule.text}"


def schedule_fire(*, schedule_id: int, due: datetime) -> Run | None:
    """Queue the wake-up's turn, if it is still active and due at `due` (else it fired already, was
    cancelled, or went with its agent: nothing happens), and move it on: a one-time wake-up ends,
    a recurring one is due next after now. A turn that cannot be queued (no LLM configured, a
    message too long for the agent's window) is recorded on it as its last error."""
    from agents.services import turn_enqueue

    with transaction.atomic():
        schedule = (ScheduledMessage.objects.select_for_update(of=("self",)).select_related("agent")
                    .filter(pk=schedule_id, status=Status.ACTIVE, next_run_at=due).first())
        if schedule is None:
            return None
        now = timezone.now()
        trigger = Run.Trigger.USER_MESSAGE if schedule.kind == Kind.MESSAGE else Run.Trigger.HEARTBEAT
        run, error = None, ""
        try:
            run = turn_enqueue(agent=schedule.agent, trigger=trigger, text=wakeup_text(schedule))
        except (LLMNotConfigured, ValueError) as refused:  # MessageTooLong is a ValueError
            error = str(refused)
            logger.warning("wake-up %s of agent %s queued no turn: %s", schedule.pk, schedule.agent_id, error)
        schedule.last_run_at, schedule.last_run, schedule.last_error = now, run, error
        schedule.fired += 1
        schedule.next_run_at = next_after(schedule, now)
        if schedule.next_run_at is None:
            schedule.status, schedule.ended_at = Status.FINISHED, now
        schedule.save(update_fields=["last_run_at", "last_run", "last_error", "fired", "next_run_at", "status",
                                     "ended_at"])
    return run


# --- reads --------------------------------------------------------------------------------------


def schedules_active(*, agent: Agent):
    """The agent's wake-ups still to come, in the order they were made."""
    return ScheduledMessage.objects.filter(agent=agent, status=Status.ACTIVE).order_by("id")


def schedule_for_agent(*, agent: Agent, schedule_id: int) -> ScheduledMessage:
    """One of the agent's active wake-ups; ScheduledMessage.DoesNotExist for an ended one or anyone else's."""
    return schedules_active(agent=agent).get(pk=schedule_id)


def schedule_when(schedule: ScheduledMessage) -> str:
    """How often, in words: "once", "every 5m", "cron 0 9 * * * (UTC)"."""
    if schedule.cron:
        return f"cron {schedule.cron} (UTC)"
    if schedule.every_seconds:
        return f"every {duration_text(schedule.every_seconds)}"
    return "once"


# --- Celery beat ----------------------------------------------------------------------------------


class WakeupScheduler(beat.Scheduler):
    """Celery beat's scheduler (CELERY_BEAT_SCHEDULER): the entries of CELERY_BEAT_SCHEDULE, if any,
    and the wake-ups of the table above.

    One beat sends: the one holding an advisory lock on a connection of its own (it dies with the
    process, or with the connection). Any other beat, on this machine or another, stands by and
    takes over when it can take the lock. A wake-up's task claims it, so even two senders would
    queue one turn."""

    def __init__(self, *args, **kwargs) -> None:
        self.sent: dict[tuple[int, datetime], float] = {}
        self.lock: psycopg.Connection | None = None
        self.leading = self.standing_by = False
        super().__init__(*args, **kwargs)

    def tick(self, *args, **kwargs) -> float:
        wait = super().tick(*args, **kwargs)
        try:
            return min(wait, self.send_due() if self.lead() else self.max_interval)
        except (DatabaseError, psycopg.Error) as error:
            logger.warning("wake-ups: the database is not reachable (%s); trying again", error)
            self.let_go()
        except Exception as error:  # Redis away, mostly: the next tick sends again
            logger.warning("wake-ups: could not send (%s: %s); trying again", type(error).__name__, error)
        finally:
            connection.close()  # back to the pool until the next tick
        return self.max_interval

    def lead(self) -> bool:
        try:
            if self.lock is None or self.lock.closed:
                self.lock, self.leading = psycopg.connect(**connection.get_connection_params(), autocommit=True), False
            if self.leading:
                self.lock.execute("SELECT 1")  # still connected, so still holding it
            else:
                self.leading = self.lock.execute("SELECT pg_try_advisory_lock(%s, %s)", BEAT_LOCK).fetchone()[0]
                if self.leading or not self.standing_by:  # said once, not at every tick
                    logger.info("wake-ups: this beat sends them" if self.leading else
                                "wake-ups: another beat sends them; this one stands by")
                self.standing_by = not self.leading
        except psycopg.Error:
            self.let_go()
            raise
        return self.leading

    def let_go(self) -> None:
        if self.lock is not None:
            self.lock.close()
        self.lock, self.leading = None, False

    def send_due(self) -> float:
        """Send a task for each due wake-up not sent lately; the seconds until the next one is due."""
        from agents.tasks import fire_schedule

        now = timezone.now()
        active = ScheduledMessage.objects.filter(status=Status.ACTIVE)
        due = set(active.filter(next_run_at__lte=now).values_list("pk", "next_run_at")[:1000])
        clock = time.monotonic()
        self.sent = {key: at for key, at in self.sent.items() if key in due}
        for pk, at in sorted(due, key=lambda key: key[1]):
            if clock - self.sent.get((pk, at), -math.inf) >= RESEND_SECONDS:
                fire_schedule.apply_async((pk, at.isoformat()))
                self.sent[(pk, at)] = clock
                logger.info("wake-up %s, due at %s, sent", pk, at.isoformat())
        upcoming = active.filter(next_run_at__gt=now).order_by("next_run_at").values_list("next_run_at", flat=True).first()
        if upcoming is None:
            return self.max_interval
        return max(0.01, min((upcoming - timezone.now()).total_seconds(), self.max_interval))

    def close(self) -> None:
        self.let_go()
        super().close()
