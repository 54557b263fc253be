"""Test settings: the real services of playground.settings, in a data directory of their own."""

import os
from pathlib import Path

os.environ.setdefault("PLAYGROUND_DATA_DIR", str(Path(__file__).resolve().parent.parent / ".playground-test"))

from playground.settings import *  # noqa: E402,F403

# one test database per pytest process, so that several test sessions can share the embedded servers
DATABASES["default"]["TEST"]["NAME"] = f"test_playground_{os.getpid()}"  # noqa: F405

# keep test traffic apart from a development worker that may share a Redis given by REDIS_URL
CELERY_TASK_DEFAULT_QUEUE = f"playground-test-{os.getpid()}"
CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"playground-test-{os.getpid()}"  # noqa: F405
MILVUS_COLLECTION_PREFIX = f"test_{os.getpid()}"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # speed only; hashing is not under test
HEALTH_WORKER_TIMEOUT = 2.0
