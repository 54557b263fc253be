"""Scheduled messages (an agent's wake-ups), as letta_client.types.agents.schedule_* spell them."""

from datetime import datetime, timezone
from typing import Any

from rest_framework import serializers

from agents.models import ScheduledMessage
from agents.schedules import cron_expression, duration_text
from playground.api import letta
from playground.api.ids import to_id
from playground.api.serializers.messages import _content_text

MAX_MILLISECONDS = 253402300799999  # 9999-12-31T23:59:59.999Z


class ScheduleIn(serializers.Serializer):
    type = serializers.ChoiceField(["one-time", "recurring"], required=False, default="one-time")
    scheduled_at = serializers.FloatField(required=False, min_value=0, max_value=MAX_MILLISECONDS,
                                          help_text="One-time: when, in Unix milliseconds (in the future).")
    cron_expression = serializers.CharField(required=False, max_length=200, help_text=(
        "Recurring: five cron fields in UTC (minute hour day month weekday), a macro (@hourly, @daily, @weekly, "
        "@monthly, @yearly), or ours: '@every 5m' (seconds, or s/m/h/d/w)."))

    def validate(self, attrs: dict) -> dict:
        if attrs["type"] == "one-time":
            if attrs.get("scheduled_at") is None:
                raise serializers.ValidationError({"scheduled_at": ["A one-time schedule needs scheduled_at (Unix ms)."]})
            if attrs["scheduled_at"] < 1e12:  # before 2001 in milliseconds: seconds, surely
                raise serializers.ValidationError({"scheduled_at": ["Unix milliseconds, not seconds."]})
            return {"at": datetime.fromtimestamp(attrs["scheduled_at"] / 1000, tz=timezone.utc)}
        if not attrs.get("cron_expression"):
            raise serializers.ValidationError({"cron_expression": ["A recurring schedule needs cron_expression."]})
        try:
            cron, every = cron_expression(attrs["cron_expression"])
        except ValueError as error:
            raise serializers.ValidationError({"cron_expression": [str(error)]}) from None
        return {"cron": cron, "every_seconds": every}


class ScheduleCreate(serializers.Serializer):
    messages = serializers.ListField(child=serializers.JSONField(), min_length=1, max_length=1,
                                     help_text="One user message: {\"role\": \"user\", \"content\": \"...\"}.")
    schedule = ScheduleIn()
    callback_url = serializers.CharField(required=False, allow_null=True, max_length=2000,
                                         help_text="Refused: poll the agent's runs instead.")
    include_return_message_types = serializers.ListField(child=serializers.ChoiceField(letta.MESSAGE_TYPES),
                                                         required=False, allow_null=True, max_length=20,
                                                         help_text="Kept and returned; nothing is called back.")
    max_steps = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=100,
                                         help_text="Kept and returned; the agent's own step limit applies.")

    def validate(self, attrs: dict) -> dict:
        if attrs.get("callback_url"):
            raise serializers.ValidationError({"callback_url": [
                "Callbacks are not supported here: poll the agent's runs (GET /v1/runs/?agent_id=...)."]})
        message = attrs["messages"][0]
        if not isinstance(message, dict) or message.get("type", "message") != "message":
            raise serializers.ValidationError({"messages": ["A message: {\"role\": \"user\", \"content\": \"...\"}."]})
        if message.get("role") != "user":
            raise serializers.ValidationError({"messages": ["Only a user message can be scheduled."]})
        text = _content_text(message.get("content"), "messages.0.content")
        if not text.strip():
            raise serializers.ValidationError({"messages": ["The message is empty."]})
        options = {name: attrs[name] for name in ("include_return_message_types", "max_steps") if attrs.get(name)}
        return {"text": text, "options": options, **attrs["schedule"]}


class ScheduleListQuery(serializers.Serializer):
    after = serializers.CharField(required=False, allow_null=True, max_length=40, help_text="Cursor: an id of this list.")
    limit = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=1000)


class ScheduleCreateOut(serializers.Serializer):
    id = serializers.CharField()
    next_scheduled_at = serializers.CharField(allow_null=True)


class ScheduledMessageOut(serializers.Serializer):
    id = serializers.CharField()
    agent_id = serializers.CharField()
    message = serializers.DictField()
    next_scheduled_time = serializers.CharField(allow_null=True)
    schedule = serializers.DictField()


class ScheduleListOut(serializers.Serializer):
    has_next_page = serializers.BooleanField()
    scheduled_messages = ScheduledMessageOut(many=True)


class ScheduleDeleteOut(serializers.Serializer):
    success = serializers.BooleanField()


def scheduled_message(row: ScheduledMessage) -> dict[str, Any]:
    """A wake-up as Letta's ScheduledMessage: a heartbeat (made by the agent or on its page) shows as a
    system message with its reason; an interval as the cron expression "@every <duration>"."""
    if row.cron or row.every_seconds:
        schedule = {"type": "recurring", "cron_expression": row.cron or f"@every {duration_text(row.every_seconds)}"}
    else:
        schedule = {"type": "one-time", "scheduled_at": row.at.timestamp() * 1000}
    role = "user" if row.kind == ScheduledMessage.Kind.MESSAGE else "system"
    return {"id": to_id("schedule", row.pk), "agent_id": to_id("agent", row.agent_id),
            "message": {"messages": [{"role": role, "content": row.text, "type": "message"}], "callback_url": None,
                        "include_return_message_types": row.options.get("include_return_message_types"),
                        "max_steps": row.options.get("max_steps")},
            "next_scheduled_time": letta.moment(row.next_run_at), "schedule": schedule}
