import os
import threading

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "playground.settings")

app = Celery("playground")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_ready.connect
def _preload_embedding_model(**kwargs) -> None:
    from memory.embeddings import preload_local_model

    threading.Thread(target=preload_local_model, name="embedding-model", daemon=True).start()
