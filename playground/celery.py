import logging
import os
import threading

from celery import Celery
from celery.signals import task_failure, task_prerun, worker_ready, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "playground.settings")

logger = logging.getLogger(__name__)

app = Celery("playground")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _preload_embedding_model(**kwargs) -> None:
    from memory.embeddings import preload_local_model

    threading.Thread(target=preload_local_model, name="embedding-model", daemon=True).start()


@worker_ready.connect
def _start_runs_sweep(sender, **kwargs) -> None:
    """Sweep stranded turns (agents.services.runs_sweep) and documents (memory.services.documents_sweep)
    as the worker starts, when it may be the one replacing a worker that died mid-turn, and then every
    RUNS_SWEEP_SECONDS.

    A thread of each worker rather than Celery beat: beat is one more process that must run once per
    deployment (and `-B` forks it out of a threaded worker), while sweeps in every worker at once are
    safe, as they work under the agents' turn locks and the documents' locks. Nor is it a task: it needs no free slot in a
    worker whose threads are all busy with long turns, and no broker to fail a run."""
    stopped = threading.Event()
    worker_shutdown.connect(lambda **kwargs: stopped.set(), weak=False)
    threading.Thread(target=_sweep_runs, args=(stopped,), name="runs-sweep", daemon=True).start()


def _sweep_runs(stopped: threading.Event) -> None:
    from django.conf import settings
    from django.db import connection

    from agents.services import runs_sweep
    from memory.services import documents_sweep
    from playground import outages

    while not stopped.is_set():
        try:
            if outages.database.up():  # once it is back, this sweep fails the turns its loss interrupted
                runs_sweep()
                documents_sweep(requeue_after=settings.RUNS_REQUEUE_AFTER_SECONDS)
        except Exception as error:  # Postgres or Redis away: the next sweep tries again
            if outages.database_unreachable(error):
                outages.database.lost()
            elif outages.redis_unreachable(error):
                logger.warning("the runs sweep could not queue a turn: Redis is not reachable")
            else:
                logger.exception("the runs sweep failed")
        finally:
            connection.close()  # back to the pool until the next sweep
        stopped.wait(settings.RUNS_SWEEP_SECONDS)


@task_prerun.connect
def _database_back(**kwargs) -> None:
    from playground import outages

    outages.database.up()  # after an outage: a fresh connection pool once a probe connects


@task_failure.connect
def _database_lost(exception=None, **kwargs) -> None:
    from playground import outages

    if exception is not None and outages.database_unreachable(exception):
        outages.database.lost()
