"""Rewinds (agents/history/rewind.py): what a rewind removes, and the rewinds kept for an undo."""

from typing import Any

from rest_framework import serializers

from agents.history.rewind import RewindPreview, rewind_undo_refused
from agents.models import Rewind
from playground.api.ids import to_id
from playground.api.serializers.agents import AgentOut


class RewindIn(serializers.Serializer):
    step_id = serializers.CharField(max_length=40, help_text="The step to go back to just before (\"step-<n>\"): it "
                                                             "goes too, and waits to be made again.")
    dry_run = serializers.BooleanField(required=False, default=False,
                                       help_text="Only say what would go; nothing changes.")


class RewindOut(serializers.Serializer):
    id = serializers.CharField()
    agent_id = serializers.CharField()
    step_id = serializers.CharField(help_text="The step gone back to just before (it is gone: an id, not a link).")
    run_id = serializers.CharField()
    step_index = serializers.IntegerField()
    status = serializers.ChoiceField(Rewind.Status.values, help_text="pending: what went is kept and can come back; "
                                                                     "confirmed: gone for good; undone.")
    counts = serializers.DictField(child=serializers.IntegerField())
    created_at = serializers.DateTimeField()
    ended_at = serializers.DateTimeField(allow_null=True)
    undo_refused = serializers.CharField(allow_null=True, help_text="Why an undo is refused now; null when it "
                                                                    "can be done.")


class RewindLines(serializers.Serializer):
    messages = serializers.ListField(child=serializers.DictField())
    block_edits = serializers.ListField(child=serializers.DictField())
    passages = serializers.ListField(child=serializers.DictField())
    runs = serializers.ListField(child=serializers.DictField())
    steps = serializers.ListField(child=serializers.DictField())
    wakeups = serializers.ListField(child=serializers.DictField())


class RewindResultOut(serializers.Serializer):
    id = serializers.CharField(allow_null=True, help_text="null for a dry run")
    status = serializers.ChoiceField([*Rewind.Status.values, "dry_run"])
    step_id = serializers.CharField()
    run_id = serializers.CharField()
    step_index = serializers.IntegerField()
    counts = serializers.DictField(child=serializers.IntegerField())
    removed = RewindLines(help_text="What goes (went): messages, block edits undone, passages, runs, steps, wake-ups.")
    blocks = serializers.ListField(child=serializers.DictField(), help_text="Each core memory block as it will be.")
    window = serializers.ListField(child=serializers.DictField(), help_text="The context window after the rewind.")
    warnings = serializers.ListField(child=serializers.CharField())
    refused = serializers.CharField(allow_null=True, help_text="A dry run: why the rewind would be refused now.")
    agent = AgentOut()


def _lines(rows: list[dict], kind: str, **ids: str) -> list[dict]:
    """Rows with their keys spelt as the API spells ids."""
    out = []
    for row in rows:
        line = {**row, "id": to_id(kind, row["id"])}
        for name, other in ids.items():
            line[name] = to_id(other, row[name])
        out.append(line)
    return out


def preview_out(preview: RewindPreview) -> dict[str, Any]:
    return {
        "step_id": to_id("step", preview.step.pk), "run_id": to_id("run", preview.step.run_id),
        "step_index": preview.step.index, "counts": preview.counts,
        "removed": {"messages": _lines(preview.messages, "message"),
                    "block_edits": _lines(preview.block_edits, "revision", block_id="block"),
                    "passages": _lines(preview.passages, "passage"), "runs": _lines(preview.runs, "run"),
                    "steps": _lines(preview.steps, "step", run_id="run"), "wakeups": _lines(preview.wakeups, "schedule")},
        "blocks": _lines(preview.blocks, "block"), "window": _lines(preview.window, "message"),
        "warnings": preview.warnings, "refused": preview.refused or None,
    }


def rewind_out(rewind: Rewind) -> dict[str, Any]:
    pending = rewind.status == Rewind.Status.PENDING
    return {"id": to_id("rewind", rewind.pk), "agent_id": to_id("agent", rewind.agent_id),
            "step_id": to_id("step", rewind.step_id), "run_id": to_id("run", rewind.run_id),
            "step_index": rewind.step_index, "status": rewind.status, "counts": rewind.counts,
            "created_at": rewind.created_at, "ended_at": rewind.ended_at,
            "undo_refused": (rewind_undo_refused(rewind=rewind) or None) if pending else "It is not pending."}
