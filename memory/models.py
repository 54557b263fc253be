"""The memory tiers: core memory (Block), recall memory (Message), archival memory (Passage),
and the documents that feed archival memory (Source, Document)."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.db import models
from pgvector.django import VectorField

# Vectors keep their model's native dimension in an untyped `vector` column; each embedding
# model gets a partial HNSW index over `embedding::vector(dim)` (see memory/vectors.py).


class MemoryTemplate(models.Model):
    """Starting text for a persona or human block. Rows with no owner are built in."""

    class Kind(models.TextChoices):
        PERSONA = "persona"
        HUMAN = "human"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    name = models.CharField(max_length=100)
    text = models.TextField(blank=True)

    class Meta:
        ordering = ["kind", "name"]
        constraints = [models.UniqueConstraint(fields=["owner", "kind", "name"], name="template_unique_name")]

    def __str__(self) -> str:
        return f"{self.kind}: {self.name}"


class Block(models.Model):
    """A core memory block. One block can be attached to several agents (shared memory)."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="blocks")
    label = models.CharField(max_length=100)
    description = models.TextField(blank=True)
    value = models.TextField(blank=True)
    limit = models.PositiveIntegerField(default=5000, help_text="maximum characters in value")
    read_only = models.BooleanField(default=False)
    agents = models.ManyToManyField("agents.Agent", through="BlockAttachment", related_name="blocks")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.label


class BlockAttachment(models.Model):
    agent = models.ForeignKey("agents.Agent", on_delete=models.CASCADE)
    block = models.ForeignKey(Block, on_delete=models.CASCADE)
    # the block's label, kept here so that the database itself refuses two blocks with one label on an
    # agent, whatever the path (pages, API, sharing, restore, import); block_write keeps it in step
    label = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0)
    attached_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["agent", "block"], name="block_attached_once"),
                       models.UniqueConstraint(fields=["agent", "label"], name="one_label_per_agent")]


class BlockRevision(models.Model):
    """One change of a block, kept for diff and undo."""

    class Actor(models.TextChoices):
        USER = "user"
        AGENT = "agent"

    block = models.ForeignKey(Block, on_delete=models.CASCADE, related_name="revisions")
    actor = models.CharField(max_length=10, choices=Actor.choices)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL)
    step = models.ForeignKey("agents.Step", null=True, blank=True, on_delete=models.SET_NULL)
    # the fields as they were and as they became: {"value": ..., "label": ..., ...}
    before = models.JSONField(default=dict)
    after = models.JSONField(default=dict)
    # why, when it was not an edit as such: "rewind to before step 2 of run 14" (agents/history/rewind.py)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-id"]


class WithoutVectors(models.Manager):
    """Rows without their embedding and tsvector: PostgreSQL reads those (search), Python never does,
    and turning a stored vector into an array cost more than the rest of the row (a context of 100
    messages loaded in 6.0 ms with them, in 2.4 ms without)."""

    def get_queryset(self) -> models.QuerySet:
        return super().get_queryset().defer("embedding", "search_vector")


class Message(models.Model):
    """Recall memory: every message an agent ever exchanged, in order."""

    class Role(models.TextChoices):
        SYSTEM = "system"
        USER = "user"
        ASSISTANT = "assistant"
        TOOL = "tool"

    class Kind(models.TextChoices):
        SYSTEM_PROMPT = "system_prompt"
        USER_MESSAGE = "user_message"
        AGENT_MESSAGE = "agent_message"  # from another agent (agents/messaging.py)
        GROUP_MESSAGE = "group_message"  # what a round-robin group said (agents/groups.py)
        SYSTEM_ALERT = "system_alert"
        HEARTBEAT = "heartbeat"
        LOGIN = "login"
        SUMMARY = "summary"
        ASSISTANT = "assistant"
        TOOL_RESULT = "tool_result"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="messages")
    agent = models.ForeignKey("agents.Agent", on_delete=models.CASCADE, related_name="messages")
    run = models.ForeignKey("agents.Run", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    step = models.ForeignKey("agents.Step", null=True, blank=True, on_delete=models.SET_NULL, related_name="messages")
    role = models.CharField(max_length=10, choices=Role.choices)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # exactly what the model is sent as this message's content
    content = models.TextField(blank=True)
    tool_calls = models.JSONField(null=True, blank=True)
    tool_call_id = models.CharField(max_length=100, blank=True)
    name = models.CharField(max_length=100, blank=True)
    # what a person reads and what search matches: the user's words, the agent's message, a tool result
    text = models.TextField(blank=True)
    in_context = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    embedding = VectorField(null=True, blank=True)
    embedding_model = models.CharField(max_length=200, blank=True)
    search_vector = models.GeneratedField(
        expression=SearchVector("text", config="english"),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    objects = WithoutVectors()

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["agent", "id"]),
            models.Index(fields=["agent", "in_context", "id"], name="message_in_context"),
            models.Index(fields=["agent", "created_at"]),
            GinIndex(fields=["search_vector"], name="message_search_vector", fastupdate=False),
        ]

    def __str__(self) -> str:
        return f"{self.role}: {self.text[:60]}"


class Source(models.Model):
    """A folder of uploaded documents that can be attached to agents."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="sources")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    agents = models.ManyToManyField("agents.Agent", blank=True, related_name="sources")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="source_unique_name")]

    def __str__(self) -> str:
        return self.name


class Document(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        PARSING = "parsing"
        EMBEDDING = "embedding"
        DONE = "done"
        ERROR = "error"
        CANCELLED = "cancelled"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="documents")
    source = models.ForeignKey(Source, on_delete=models.CASCADE, related_name="documents")
    filename = models.CharField(max_length=255)
    file = models.FileField(upload_to="documents/%Y/%m/")
    content_type = models.CharField(max_length=100, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    pages_total = models.PositiveIntegerField(default=0)
    pages_parsed = models.PositiveIntegerField(default=0)
    chunks_total = models.PositiveIntegerField(default=0)
    chunks_embedded = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.filename


class Passage(models.Model):
    """Archival memory: a passage of text with its embedding."""

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="passages")
    # an agent's own archival memory, or a document's chunk (found through the agents its source is attached to)
    agent = models.ForeignKey("agents.Agent", null=True, blank=True, on_delete=models.CASCADE, related_name="passages")
    document = models.ForeignKey(Document, null=True, blank=True, on_delete=models.CASCADE, related_name="passages")
    # the agent's step that inserted it (archival_memory_insert), for its timeline
    step = models.ForeignKey("agents.Step", null=True, blank=True, on_delete=models.SET_NULL, related_name="passages")
    text = models.TextField()
    page_start = models.PositiveIntegerField(null=True, blank=True)
    page_end = models.PositiveIntegerField(null=True, blank=True)
    tags = ArrayField(models.CharField(max_length=100), default=list, blank=True)
    embedding = VectorField(null=True, blank=True)
    embedding_model = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    search_vector = models.GeneratedField(
        expression=SearchVector("text", config="english"),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    objects = WithoutVectors()

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["agent", "id"]),
            models.Index(fields=["document", "id"]),
            GinIndex(fields=["search_vector"], name="passage_search_vector", fastupdate=False),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(agent__isnull=False) | models.Q(document__isnull=False),
                name="passage_has_agent_or_document",
            )
        ]

    def __str__(self) -> str:
        return self.text[:60]


class WordStats(models.Model):
    """How many of an owner's passages (or conversation messages) there are, and how many words they
    hold, as counted at `counted_at`: BM25's statistics for search over a large memory
    (memory/word_stats.py)."""

    class Table(models.TextChoices):
        PASSAGE = "memory_passage"
        MESSAGE = "memory_message"

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    table = models.CharField(max_length=20, choices=Table.choices)
    rows = models.PositiveIntegerField()
    words = models.BigIntegerField()  # distinct words per row, added up
    counted_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "table"], name="one_word_stats_per_owner_and_table")]


class WordCount(models.Model):
    """In how many of those rows a word (a lexeme, as PostgreSQL's english parser made it) occurs."""

    stats = models.ForeignKey(WordStats, on_delete=models.CASCADE, related_name="counts")
    word = models.TextField()
    rows = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["stats", "word"], name="one_count_per_word")]
