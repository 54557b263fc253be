"""Runs (one turn each) and steps (one LLM call each)."""

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agents.models import Run, Step
from playground.api import letta
from playground.api.ids import to_id
from playground.api.serializers.common import ListQuery, PublicId, ids_field


class RunListQuery(ListQuery):
    agent_id = serializers.CharField(required=False, allow_null=True, max_length=40)
    agent_ids = ids_field()
    statuses = serializers.ListField(child=serializers.ChoiceField(list(letta.RUN_STATUS_OURS)), required=False,
                                     allow_null=True, max_length=10)
    active = serializers.BooleanField(required=False, allow_null=True, default=None)
    stop_reason = serializers.ChoiceField(Run.StopReason.values, required=False, allow_null=True)
    ascending = serializers.BooleanField(required=False, allow_null=True)


class StepListQuery(ListQuery):
    agent_id = serializers.CharField(required=False, allow_null=True, max_length=40)
    model = serializers.CharField(required=False, allow_null=True, max_length=200)
    start_date = serializers.DateTimeField(required=False, allow_null=True)
    end_date = serializers.DateTimeField(required=False, allow_null=True)


class RunOut(serializers.Serializer):
    id = PublicId("run", source="pk")
    agent_id = PublicId("agent")
    status = serializers.SerializerMethodField()
    stop_reason = serializers.SerializerMethodField()
    background = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    completed_at = serializers.DateTimeField(source="finished_at", allow_null=True)
    total_duration_ns = serializers.SerializerMethodField()
    metadata = serializers.SerializerMethodField()

    @extend_schema_field(serializers.ChoiceField(list(letta.RUN_STATUS_OURS)))
    def get_status(self, run: Run) -> str:
        return letta.RUN_STATUS[run.status]

    def get_stop_reason(self, run: Run) -> str | None:
        return run.stop_reason or None

    def get_background(self, run: Run) -> bool:
        return True

    def get_total_duration_ns(self, run: Run) -> int | None:
        if run.started_at and run.finished_at:
            return int((run.finished_at - run.started_at).total_seconds() * 1e9)
        return None

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_metadata(self, run: Run) -> dict:
        """Ours: what started the run; for a run another agent's message started, the run and step
        that sent it and whether that run waits for the reply; a waiting run's deadline."""
        return {"trigger": run.trigger, "error": run.error or None, "waiting": run.status == Run.Status.WAITING,
                "waiting_until": run.waiting_until.isoformat() if run.status == Run.Status.WAITING and run.waiting_until else None,
                "parent_run_id": to_id("run", run.parent_run_id), "parent_step_id": to_id("step", run.parent_step_id),
                "awaited": run.awaited, "group_id": to_id("group", run.group_turn.group_id) if run.group_turn_id else None}


class StepOut(serializers.Serializer):
    id = PublicId("step", source="pk")
    run_id = PublicId("run")
    agent_id = PublicId("agent")
    model = serializers.CharField()
    model_endpoint = serializers.SerializerMethodField()
    context_window_limit = serializers.IntegerField(source="agent.context_window")
    prompt_tokens = serializers.IntegerField(allow_null=True)
    completion_tokens = serializers.IntegerField(allow_null=True)
    total_tokens = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    error_type = serializers.SerializerMethodField()
    error_data = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()
    # ours: the full-prompt trace's numbers
    index = serializers.IntegerField()
    purpose = serializers.CharField()
    latency_ms = serializers.FloatField(allow_null=True)
    tokens = serializers.JSONField(help_text="Our exact token count of the prompt, per tier.")
    created_at = serializers.DateTimeField()

    def get_model_endpoint(self, step: Step) -> str | None:
        return letta.public_endpoint(settings.OPENAI_BASE_URL) if settings.OPENAI_BASE_URL else None

    def get_total_tokens(self, step: Step) -> int | None:
        if step.prompt_tokens is None and step.completion_tokens is None:
            return None
        return (step.prompt_tokens or 0) + (step.completion_tokens or 0)

    @extend_schema_field(serializers.ChoiceField(["success", "failed"]))
    def get_status(self, step: Step) -> str:
        return "failed" if step.error else "success"

    def get_error_type(self, step: Step) -> str | None:
        return "llm_api_error" if step.error else None

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_error_data(self, step: Step) -> dict | None:
        return {"message": step.error} if step.error else None

    def get_tags(self, step: Step) -> list[str]:
        return []


class StepTraceOut(serializers.Serializer):
    id = serializers.CharField()
    step_id = serializers.CharField()
    run_id = serializers.CharField()
    agent_id = serializers.CharField()
    request_json = serializers.JSONField()
    response_json = serializers.JSONField()
    latency_ms = serializers.IntegerField(allow_null=True)
    call_type = serializers.CharField()
    created_at = serializers.DateTimeField()


class RunUsageOut(serializers.Serializer):
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()


class RunTraceQuery(serializers.Serializer):
    limit = serializers.IntegerField(required=False, default=1000, min_value=1, max_value=1000,
                                     help_text="The most spans (steps) to answer.")


class RunTraceSpanOut(serializers.Serializer):
    """One step of the run as a trace span: the exact request sent, the response, usage, latency."""

    span_name = serializers.ChoiceField(["agent_step", "summary"])
    span_id = serializers.CharField()
    trace_id = serializers.CharField(help_text="The run's id.")
    step_id = serializers.CharField()
    run_id = serializers.CharField()
    agent_id = serializers.CharField()
    index = serializers.IntegerField()
    model = serializers.CharField()
    request_json = serializers.JSONField()
    response_json = serializers.JSONField(allow_null=True)
    usage = serializers.JSONField(allow_null=True, help_text="As the provider reported it.")
    prompt_tokens = serializers.IntegerField(allow_null=True)
    completion_tokens = serializers.IntegerField(allow_null=True)
    tokens = serializers.JSONField(help_text="Ours: the exact count per tier of the prompt.")
    latency_ms = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
