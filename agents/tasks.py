from celery import shared_task

from agents.services import agent_runs_process


@shared_task(name="agents.process_runs", ignore_result=True, acks_late=True)
def process_runs(agent_id: int) -> None:
    """Run an agent's queued turns; returns quietly when the agent is gone (its runs went with it) or
    another worker has them."""
    agent_runs_process(agent_id=agent_id)
