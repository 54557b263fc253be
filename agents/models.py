"""Agents and their turns: an Agent, a Run (one turn) and a Step (one LLM call)."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models


class Tool(models.Model):
    """What an agent may call: a built-in tool (no owner; the engine runs it) or a person's Python
    function (run in the sandbox, agents/tools/sandbox.py). `json_schema` is what the model is sent."""

    class Kind(models.TextChoices):
        BUILTIN = "builtin"
        CUSTOM = "custom"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tools", null=True,
                              blank=True)
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.CUSTOM)
    name = models.CharField(max_length=64)
    description = models.TextField(blank=True)
    source_code = models.TextField(blank=True)
    json_schema = models.JSONField()
    tags = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    # characters of a result the model reads; the rest is cut, with a note (Letta's default)
    return_char_limit = models.PositiveIntegerField(default=6000)
    pip_requirements = ArrayField(models.CharField(max_length=200), default=list, blank=True)
    takes_agent_state = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="tool_unique_name_per_owner"),
            models.UniqueConstraint(fields=["name"], condition=models.Q(owner__isnull=True), name="tool_unique_builtin_name"),
        ]

    def __str__(self) -> str:
        return self.name


class ModelServer(models.Model):
    """An OpenAI-compatible server of a person's (OpenAI, vLLM, Ollama, llama.cpp, ...): its models are
    offered as "<name>/<model>". The key is kept encrypted (agents/llm/keys.py) and never shown again."""

    class Kind(models.TextChoices):
        OPENAI = "openai"
        VLLM = "vllm"
        OLLAMA = "ollama"
        LLAMACPP = "llamacpp"
        OTHER = "openai_compatible"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="model_servers")
    name = models.CharField(max_length=64)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.OTHER)
    base_url = models.CharField(max_length=500)
    api_key_encrypted = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="model_server_unique_name_per_owner")]

    def __str__(self) -> str:
        return self.name


class Agent(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agents")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    tags = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    # base instructions: the fixed first part of the system prompt
    system = models.TextField()
    model = models.CharField(max_length=200, blank=True, help_text="blank: the LLM_MODEL setting")
    context_window = models.PositiveIntegerField(default=8192)
    temperature = models.FloatField(default=0.7)
    embedding_model = models.CharField(max_length=200)
    # memory pressure thresholds, as shares of the context window
    warning_share = models.FloatField(default=0.7)
    evict_share = models.FloatField(default=0.5)
    completion_reserve = models.PositiveIntegerField(default=1024)
    max_steps = models.PositiveIntegerField(default=10)
    # set when the warning was sent; cleared when the prompt falls below the threshold again
    memory_warning_sent = models.BooleanField(default=False)
    memory_edited_at = models.DateTimeField(null=True, blank=True)
    tools = models.ManyToManyField(Tool, related_name="agents", blank=True)
    # Letta's tool rules (agents/engine/rules.py), as its API spells them
    tool_rules = models.JSONField(default=list, blank=True)
    # fallbacks for models that do not keep MemGPT's protocol (agents/llm/check.py shows whether one needs them)
    heartbeat_fallback = models.BooleanField(
        default=False, help_text="a tool call other than send_message that forgot request_heartbeat gets one anyway")

    class ToolProtocol(models.TextChoices):
        NATIVE = "native"  # the server's own tool calling (tools=[...] in the request)
        JSON = "json"  # the tools described in the prompt, the model's JSON answer read back as tool calls

    tool_protocol = models.CharField(max_length=10, choices=ToolProtocol.choices, default=ToolProtocol.NATIVE)
    # a fork (agents/history/fork.py): the step of another agent it was made just before
    forked_from = models.ForeignKey("Step", null=True, blank=True, on_delete=models.SET_NULL, related_name="forks")
    # an agent forked or rewound to just before a step: that step's turn, to be taken up again by a
    # `continue` run ({"step_id", "run_id", "index", "steps", "called"}); cleared by the next turn
    pending_turn = models.JSONField(null=True, blank=True)
    last_active_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return self.name


class Group(models.Model):
    """Agents that answer together (agents/groups.py): a person's message to a round-robin group goes
    to each member in turn, each seeing what the others said; to a supervisor group, to its manager,
    which hands work to the members with send_message_to_all_agents_in_group. A sleep-time group's
    members run beside its manager (the primary agent) after every few of its turns, or after a quiet
    period, and reorganise the memory blocks they share with it."""

    class Kind(models.TextChoices):
        ROUND_ROBIN = "round_robin"
        SUPERVISOR = "supervisor"
        SLEEPTIME = "sleeptime"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent_groups")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    description = models.TextField(blank=True)
    members = models.ManyToManyField("Agent", through="GroupMember", related_name="agent_groups")
    # a supervisor group's supervisor; a sleep-time group's primary agent
    manager = models.ForeignKey("Agent", null=True, blank=True, on_delete=models.CASCADE, related_name="managed_groups")
    max_turns = models.PositiveIntegerField(null=True, blank=True)  # round robin: answers per message (default: one each)
    # sleep-time: after every `sleeptime_frequency` turns of the primary agent, or once it has been quiet this long
    sleeptime_frequency = models.PositiveIntegerField(null=True, blank=True)
    sleeptime_quiet_seconds = models.FloatField(null=True, blank=True)
    turns_counter = models.PositiveIntegerField(default=0)
    last_processed_message_id = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.kind} group {self.pk}"


class GroupMember(models.Model):
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="memberships")
    agent = models.ForeignKey("Agent", on_delete=models.CASCADE, related_name="memberships")
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["group", "position"]
        constraints = [models.UniqueConstraint(fields=["group", "agent"], name="group_member_once")]


class GroupTurn(models.Model):
    """A person's message to a group, and every run it led to (Run.group_turn)."""

    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="turns")
    input = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]


class Run(models.Model):
    """One turn: everything the agent did in answer to one event."""

    class Trigger(models.TextChoices):
        USER_MESSAGE = "user_message"
        LOGIN = "login"
        HEARTBEAT = "heartbeat"
        MEMORY_WARNING = "memory_warning"
        SYSTEM = "system"
        AGENT_MESSAGE = "agent_message"  # another agent's message (agents/messaging.py)
        GROUP_MESSAGE = "group_message"  # what the others of a round-robin group said (agents/groups.py)
        SLEEPTIME = "sleeptime"  # a sleep-time agent's turn over its primary agent's new messages
        CONTINUE = "continue"  # a forked or rewound agent's pending step made again, with no new event

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        WAITING = "waiting"  # for other agents' replies; holds no worker meanwhile (agents/messaging.py)
        COMPLETED = "completed"
        FAILED = "failed"
        CANCELLED = "cancelled"

    class StopReason(models.TextChoices):
        END_TURN = "end_turn"
        MAX_STEPS = "max_steps"
        ERROR = "error"
        NO_TOOL_CALL = "no_tool_call"
        CANCELLED = "cancelled"

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="runs")
    trigger = models.CharField(max_length=20, choices=Trigger.choices)
    # the event's text, for triggers that carry one (the user's message)
    input = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.QUEUED)
    stop_reason = models.CharField(max_length=20, choices=StopReason.choices, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # a client's Idempotency-Key: its retries of the request that queued this run get this run back
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)
    # a turn started by another agent's message: the run and step that sent it, the call it answers,
    # and whether that run waits for this one's reply
    parent_run = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children")
    parent_step = models.ForeignKey("Step", null=True, blank=True, on_delete=models.SET_NULL, related_name="sent_runs")
    tool_call_id = models.CharField(max_length=100, blank=True)
    awaited = models.BooleanField(default=False)
    # a run of a group's: the person's message to the group it answers (agents/groups.py)
    group_turn = models.ForeignKey(GroupTurn, null=True, blank=True, on_delete=models.SET_NULL, related_name="runs")
    # a waiting run: where its turn goes on (agents.engine.types.Suspension), and until when it waits
    suspension = models.JSONField(null=True, blank=True)
    waiting_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["agent", "status", "id"]),
            # the runs sweep's (agents.services.runs_sweep) and the messages' (agents.messaging): the few
            # runs not finished, out of every run
            models.Index(fields=["created_at"], name="run_unfinished",
                         condition=models.Q(status__in=["queued", "running", "waiting"])),
        ]
        constraints = [models.UniqueConstraint(fields=["agent", "idempotency_key"], name="run_unique_idempotency_key",
                                               condition=models.Q(idempotency_key__isnull=False))]

    def __str__(self) -> str:
        return f"run {self.pk} of {self.agent_id} ({self.status})"


# a run someone is still to do something about: queued, under way, or waiting for other agents
RUN_UNFINISHED = (Run.Status.QUEUED, Run.Status.RUNNING, Run.Status.WAITING)


class Step(models.Model):
    """One LLM call inside a run: the full prompt trace."""

    class Purpose(models.TextChoices):
        AGENT = "agent"
        SUMMARY = "summary"

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="steps")
    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="steps")
    index = models.PositiveIntegerField()
    purpose = models.CharField(max_length=10, choices=Purpose.choices, default=Purpose.AGENT)
    model = models.CharField(max_length=200)
    # the exact request body sent and the response as received
    request = models.JSONField()
    response = models.JSONField(null=True, blank=True)
    # our exact count per tier: {"system": n, "tools": n, ..., "total": n, "encoding": ..., "approximate": bool}
    tokens = models.JSONField(default=dict)
    # usage as the provider reported it
    usage = models.JSONField(null=True, blank=True)
    prompt_tokens = models.PositiveIntegerField(null=True, blank=True)
    completion_tokens = models.PositiveIntegerField(null=True, blank=True)
    latency_ms = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    # what the agent's tool rules did at this step (agents/engine/rules.py), for its trace
    rules = models.JSONField(default=list, blank=True)
    # the agent just before this call (agents/engine/snapshot.py, agents/storage.py): enough to fork
    # or rewind it to exactly here (agents/history)
    state = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run_id", "index"]
        constraints = [models.UniqueConstraint(fields=["run", "index"], name="step_unique_index_in_run")]

    def __str__(self) -> str:
        return f"step {self.index} of run {self.run_id}"


class StepReplay(models.Model):
    """A step's exact request sent again with changes (agents/history/replay.py): the agent is not
    touched; the new answer is kept beside the stored one, under the step."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    step = models.ForeignKey(Step, on_delete=models.CASCADE, related_name="replays")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    # what was changed: {"model", "temperature", "system", "blocks": {label: value}, "tools": [names]}
    changes = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    request = models.JSONField(null=True, blank=True)  # exactly as sent
    response = models.JSONField(null=True, blank=True)
    usage = models.JSONField(null=True, blank=True)
    tokens = models.JSONField(default=dict, blank=True)  # our count of the new request
    latency_ms = models.FloatField(null=True, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["step", "id"]

    def __str__(self) -> str:
        return f"replay {self.pk} of step {self.step_id} ({self.status})"


class Rewind(models.Model):
    """An agent returned to just before one of its steps (agents/history/rewind.py). What went is
    kept here, as it was, until a person confirms, so the rewind can be undone meanwhile."""

    class Status(models.TextChoices):
        PENDING = "pending"  # done; what went is kept and can come back
        CONFIRMED = "confirmed"  # what went is gone for good
        UNDONE = "undone"

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="rewinds")
    # the step it went back to just before (the step itself went too): ids, not keys, since the rows are gone
    step_id = models.BigIntegerField()
    run_id = models.BigIntegerField()
    step_index = models.PositiveIntegerField()
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # the rows and values that went, as they were (messages, passages, runs, steps, blocks, the window, ...)
    removed = models.JSONField(default=dict, blank=True)
    # what a person reads: {"messages": n, "block_edits": n, "passages": n, "runs": n, "steps": n}
    counts = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"rewind {self.pk} of {self.agent_id} to step {self.step_id} ({self.status})"


class ScheduledMessage(models.Model):
    """A wake-up (agents/schedules.py): a message or a heartbeat queued as a turn of the agent at a
    time (`at`), on an interval (`every_seconds`, first at `at` if given) or on a cron expression;
    made by a person or by the agent itself (the schedule_wakeup tool, at one of its steps)."""

    class Kind(models.TextChoices):
        MESSAGE = "message"  # a user message
        HEARTBEAT = "heartbeat"  # text: the reason the agent reads when it wakes

    class Status(models.TextChoices):
        ACTIVE = "active"
        FINISHED = "finished"  # a one-time wake-up that fired
        CANCELLED = "cancelled"

    class Actor(models.TextChoices):
        USER = "user"
        AGENT = "agent"

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="schedules")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    text = models.TextField()
    note = models.TextField(blank=True)  # what the agent asked to be told when it wakes
    at = models.DateTimeField(null=True, blank=True)
    every_seconds = models.PositiveIntegerField(null=True, blank=True)
    cron = models.CharField(max_length=200, blank=True)  # five fields, in UTC
    # Letta's options of the message (include_return_message_types, max_steps), kept to be read back
    options = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    fired = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)  # why the last wake-up queued no turn
    actor = models.CharField(max_length=10, choices=Actor.choices, default=Actor.USER)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_by_step = models.ForeignKey(Step, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["agent", "status", "id"]),
            # the beat's question every second: the few active wake-ups, by when they are due
            models.Index(fields=["next_run_at"], name="schedule_due", condition=models.Q(status="active")),
        ]

    def __str__(self) -> str:
        return f"{self.kind} schedule {self.pk} of {self.agent_id} ({self.status})"
