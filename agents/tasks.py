from celery import shared_task

from agents.services import agent_runs_process


# Acknowledged after it ran, and given back when its worker is lost: a worker killed mid-turn has the
# task delivered again. That is safe: the runner's advisory lock lets one task at a time run the
# agent's turns, and the one that takes it fails the run left "running" before taking queued ones.
# Time limits: settings.CELERY_TASK_ANNOTATIONS (from TURN_DEADLINE_SECONDS).
@shared_task(name="agents.process_runs", ignore_result=True, acks_late=True, reject_on_worker_lost=True)
def process_runs(agent_id: int) -> None:
    """Run an agent's queued turns; returns quietly when the agent is gone (its runs went with it) or
    another worker has them."""
    agent_runs_process(agent_id=agent_id)


@shared_task(name="agents.sleeptime_check", ignore_result=True)
def sleeptime_check(group_id: int) -> None:
    """A sleep-time group's quiet-period check (agents.groups.sleeptime_due queues it after each turn)."""
    from agents.groups import sleeptime_if_quiet

    sleeptime_if_quiet(group_id)


@shared_task(name="agents.fire_schedule", ignore_result=True)
def fire_schedule(schedule_id: int, due: str) -> None:
    """A wake-up come due (sent by Celery beat: agents.schedules.WakeupScheduler): queue its turn, unless
    it fired already (sent twice), was cancelled, or went with its agent."""
    from datetime import datetime

    from agents.schedules import schedule_fire

    schedule_fire(schedule_id=schedule_id, due=datetime.fromisoformat(due))


@shared_task(name="agents.check_model", ignore_result=True)
def check_model(agent_id: int, check_id: str) -> None:
    """A model check asked for on the agent page (agents.services.model_check_enqueue); quiet if the agent is gone."""
    from agents.services import model_check_run

    model_check_run(agent_id=agent_id, check_id=check_id)


@shared_task(name="agents.replay_step", ignore_result=True)
def replay_step(replay_id: int) -> None:
    """A step's request sent again with changes (agents.history.replay.replay_enqueue); quiet if the replay is
    gone or was taken already."""
    from agents.history.replay import replay_run

    replay_run(replay_id=replay_id)
