"""Rows for tests, with sensible defaults; keyword arguments override any field."""

import hashlib
import itertools

from django.contrib.auth import get_user_model

from agents.models import Agent, Run, Step
from memory import milvus
from memory.embeddings import get_embedder
from memory.models import Block, BlockAttachment, Message, Passage

_numbers = itertools.count(1)


def make_user(**fields):
    number = next(_numbers)
    fields.setdefault("username", f"user{number}")
    password = fields.pop("password", "pass-word-123")
    user = get_user_model().objects.create_user(**fields)
    user.set_password(password)
    user.save(update_fields=["password"])
    return user


def make_agent(owner=None, **fields):
    fields.setdefault("name", f"agent {next(_numbers)}")
    fields.setdefault("system", "You are a test agent.")
    fields.setdefault("embedding_model", "local/all-MiniLM-L6-v2")
    return Agent.objects.create(owner=owner or make_user(), **fields)


def make_block(owner=None, agent=None, **fields):
    """A core memory block; in the agent's core memory, after its other blocks, when an agent is given."""
    fields.setdefault("label", f"block{next(_numbers)}")
    block = Block.objects.create(owner=owner or (agent.owner if agent else make_user()), **fields)
    if agent is not None:
        BlockAttachment.objects.create(agent=agent, block=block, label=block.label,
                                       position=BlockAttachment.objects.filter(agent=agent).count())
    return block


def make_message(agent, **fields):
    """A message in the agent's recall memory; by default a user message whose content is its text."""
    fields.setdefault("role", Message.Role.USER)
    fields.setdefault("kind", Message.Kind.USER_MESSAGE)
    fields.setdefault("text", fields.get("content", f"message {next(_numbers)}"))
    fields.setdefault("content", fields["text"])
    fields.setdefault("owner", agent.owner)
    return Message.objects.create(agent=agent, **fields)


def make_passage(agent=None, text=None, **fields):
    """A passage of the agent's archival memory (or, with document=..., a document's chunk), stored
    with a vector of its embedding model's dimension made from the text, so that no model is loaded."""
    text = text or f"passage {next(_numbers)}"
    document = fields.get("document")
    fields.setdefault("owner", agent.owner if agent else document.owner)
    fields.setdefault("embedding_model", agent.embedding_model if agent else "local/all-MiniLM-L6-v2")
    if "embedding" not in fields:
        fields["embedding"] = unit_vector(text, get_embedder(fields["embedding_model"]).dimensions)
    passage = Passage.objects.create(agent=agent, text=text, **fields)
    milvus.passages_upsert_later(ids=[passage.pk])  # as the services do, where vectors live in Milvus
    return passage


def make_run(agent, **fields):
    """A turn of the agent's; by default one that answered a user message and ended."""
    fields.setdefault("trigger", Run.Trigger.USER_MESSAGE)
    fields.setdefault("input", "hello")
    fields.setdefault("status", Run.Status.COMPLETED)
    if fields["status"] == Run.Status.COMPLETED:
        fields.setdefault("stop_reason", Run.StopReason.END_TURN)
    return Run.objects.create(agent=agent, **fields)


def make_step(run, **fields):
    """The run's next LLM call."""
    fields.setdefault("index", run.steps.count())
    fields.setdefault("model", "gpt-4o-mini")
    fields.setdefault("request", {"model": fields["model"], "messages": []})
    fields.setdefault("agent", run.agent)
    return Step.objects.create(run=run, **fields)


def make_replay_and_rewind(step_id: str) -> tuple[str, str]:
    """A finished replay of an API step id's step and a kept rewind of its agent: their API ids."""
    from agents.models import Rewind, StepReplay
    from playground.api.ids import from_id, to_id

    step = Step.objects.get(pk=from_id("step", step_id))
    replay = StepReplay.objects.create(step=step, status="done", request=step.request, response=step.response,
                                       usage=step.usage, tokens=step.tokens, latency_ms=1.0)
    rewind = Rewind.objects.create(agent=step.agent, step_id=step.pk, run_id=step.run_id, step_index=step.index,
                                   status=Rewind.Status.CONFIRMED)
    return to_id("replay", replay.pk), to_id("rewind", rewind.pk)


def unit_vector(text: str, dimensions: int) -> list[float]:
    """The same text always gives the same vector; different texts give unrelated ones."""
    digest = hashlib.shake_256(text.encode()).digest(2 * dimensions)
    values = [int.from_bytes(digest[i:i + 2], "big") / 32767.5 - 1 for i in range(0, len(digest), 2)]
    norm = sum(v * v for v in values) ** 0.5 or 1.0
    return [v / norm for v in values]
