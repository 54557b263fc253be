"""Replays of a step: its request sent again with changes, the new answer beside the stored one
(agents/history/replay.py)."""

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from agents.history.replay import replay_comparison
from agents.models import StepReplay
from playground.api.serializers.common import PublicId, text_field

CHANGES = ["same", "changed", "removed", "added"]  # of a tool call's name, or of one of its arguments


class ReplayIn(serializers.Serializer):
    model = serializers.CharField(required=False, allow_null=True, max_length=200,
                                  help_text='A model handle, as agents have them: "openai/gpt-4o-mini", '
                                            '"<server>/<model>".')
    temperature = serializers.FloatField(required=False, allow_null=True, min_value=0.0, max_value=2.0)
    system = text_field(required=False, allow_null=True, allow_blank=True,
                        help_text="The base instructions: the start of the system message, before core memory.")
    block_values = serializers.DictField(child=text_field(allow_blank=True), required=False, allow_null=True,
                                         help_text="Core memory block values by label; the other blocks as "
                                                   "the step had them.")
    tools = serializers.ListField(child=serializers.CharField(max_length=64), required=False, allow_null=True,
                                  max_length=200,
                                  help_text="The tools offered, by name (built-in or yours); [] offers none.")

    def changes(self) -> dict[str, Any]:
        """The changes as agents.history.replay takes them: the fields given, block_values as `blocks`."""
        data = {key: value for key, value in self.validated_data.items() if value is not None}
        if "block_values" in data:
            data["blocks"] = data.pop("block_values")
        return data


class SideOut(serializers.Serializer):
    model = serializers.CharField(allow_null=True)
    content = serializers.CharField(help_text="The answer's text (its inner thoughts, for a tool call).")
    finish_reason = serializers.CharField(allow_null=True)
    tool_calls = serializers.ListField(child=serializers.DictField(), help_text="[{name, arguments}], arguments raw.")
    error = serializers.CharField(allow_blank=True)


class DiffPartOut(serializers.Serializer):
    op = serializers.ChoiceField(["equal", "remove", "add"])
    text = serializers.CharField()


class ArgumentDiffOut(serializers.Serializer):
    key = serializers.CharField(allow_null=True,
                                help_text="None: arguments that are not a JSON object, compared whole.")
    change = serializers.ChoiceField(CHANGES)
    stored = serializers.JSONField(allow_null=True)
    new = serializers.JSONField(allow_null=True)


class ToolCallDiffOut(serializers.Serializer):
    index = serializers.IntegerField()
    name = serializers.ChoiceField(CHANGES)
    stored_name = serializers.CharField(allow_null=True)
    new_name = serializers.CharField(allow_null=True)
    arguments = ArgumentDiffOut(many=True)


class CountPairOut(serializers.Serializer):
    stored = serializers.IntegerField(allow_null=True)
    new = serializers.IntegerField(allow_null=True)


class LatencyPairOut(serializers.Serializer):
    stored = serializers.FloatField(allow_null=True)
    new = serializers.FloatField(allow_null=True)


class TokensPairOut(serializers.Serializer):
    prompt = CountPairOut(help_text="As the provider reported them.")
    completion = CountPairOut()
    total = CountPairOut()
    ours = CountPairOut(help_text="Our exact count of the prompt sent.")


class ComparisonOut(serializers.Serializer):
    status = serializers.ChoiceField(StepReplay.Status.choices)
    changes = serializers.JSONField()
    request_differences = serializers.ListField(child=serializers.CharField(),
                                                help_text="Where the requests differ, as JSON paths.")
    stored = SideOut()
    new = SideOut()
    content_diff = DiffPartOut(many=True, help_text="Word by word.")
    line_diff = serializers.ListField(child=serializers.CharField(), help_text="A unified diff of the texts.")
    tool_calls_diff = ToolCallDiffOut(many=True)
    tokens = TokensPairOut()
    latency_ms = LatencyPairOut()


class ReplayOut(serializers.Serializer):
    id = PublicId("replay", source="pk")
    step_id = PublicId("step")
    agent_id = PublicId("agent", source="step.agent_id")
    status = serializers.ChoiceField(StepReplay.Status.choices)
    changes = serializers.JSONField()
    request = serializers.JSONField(allow_null=True, help_text="Exactly as sent.")
    response = serializers.JSONField(allow_null=True)
    usage = serializers.JSONField(allow_null=True)
    tokens = serializers.JSONField(help_text="Our count of the prompt sent, per tier where it splits into them.")
    latency_ms = serializers.FloatField(allow_null=True)
    error = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    comparison = serializers.SerializerMethodField()

    @extend_schema_field(ComparisonOut(allow_null=True))
    def get_comparison(self, replay: StepReplay) -> dict | None:
        """The stored answer beside the new one, once the replay has finished."""
        if replay.status not in (StepReplay.Status.DONE, StepReplay.Status.FAILED):
            return None
        return ComparisonOut(replay_comparison(replay=replay)).data
