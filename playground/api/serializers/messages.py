"""Recall memory and turns: messages listed, sent and searched."""

from typing import Any

from django.conf import settings
from rest_framework import serializers

from agents.models import Run
from playground.api import letta
from playground.api.errors import PayloadTooLarge
from playground.api.serializers.common import ListQuery, ids_field


class MessageListQuery(ListQuery):
    include_return_message_types = serializers.ListField(child=serializers.ChoiceField(letta.MESSAGE_TYPES),
                                                         required=False, allow_null=True, max_length=20)
    use_assistant_message = serializers.BooleanField(required=False, default=True)


def _content_text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list) and content:
        parts = []
        for part in content:
            if not (isinstance(part, dict) and part.get("type", "text") == "text" and isinstance(part.get("text"), str)):
                raise serializers.ValidationError({where: ["Only text content can be sent (no images or tool returns)."]})
            parts.append(part["text"])
        return "\n".join(parts)
    raise serializers.ValidationError({where: ["Text, or a list of {\"type\": \"text\", \"text\": ...} parts."]})


class MessageSend(serializers.Serializer):
    messages = serializers.ListField(child=serializers.JSONField(), required=False, allow_null=True, max_length=1,
                                     help_text="One user message: {\"role\": \"user\", \"content\": \"...\"}.")
    input = serializers.JSONField(required=False, allow_null=True, help_text="The user's message, instead of messages.")
    streaming = serializers.BooleanField(default=False)
    stream_tokens = serializers.BooleanField(default=False, help_text="Ignored: steps are streamed whole.")
    include_pings = serializers.BooleanField(default=False)
    background = serializers.BooleanField(default=False, help_text="Ignored: every turn runs in the worker.")
    use_assistant_message = serializers.BooleanField(default=True)
    include_return_message_types = serializers.ListField(child=serializers.ChoiceField(letta.MESSAGE_TYPES),
                                                         required=False, allow_null=True, max_length=20)
    include_compaction_messages = serializers.BooleanField(default=False)
    max_steps = serializers.IntegerField(required=False, min_value=1, max_value=100,
                                         help_text="Ignored: the agent's own step limit applies.")

    def validate(self, attrs: dict) -> dict:
        messages, given = attrs.get("messages") or [], attrs.get("input")
        if given is not None:
            text = _content_text(given, "input")
        elif messages:
            message = messages[0]
            if not isinstance(message, dict) or message.get("type", "message") != "message":
                raise serializers.ValidationError({"messages": ["Approvals and tool returns are not supported here."]})
            if message.get("role") != "user":
                raise serializers.ValidationError({"messages": ["Only a user message can start a turn."]})
            text = _content_text(message.get("content"), "messages.0.content")
        else:
            raise serializers.ValidationError({"messages": ["Give the user's message in messages or input."]})
        if not text.strip():
            raise serializers.ValidationError({"messages": ["The message is empty."]})
        # (a NUL character or a lone surrogate never gets here: views.base.TextJSONParser refuses the body)
        if len(text) > settings.MESSAGE_MAX_CHARS:
            raise PayloadTooLarge(f"The message has {len(text)} characters; the limit is {settings.MESSAGE_MAX_CHARS} "
                                  "(MESSAGE_MAX_CHARS).", code="message_too_long")
        attrs["text"] = text
        # Letta's offline threading id: a client's retry sends the message with the same one, so it
        # serves as the Idempotency-Key when no header gives one
        otid = messages[0].get("otid") if given is None else None
        attrs["otid"] = otid if isinstance(otid, str) and 0 < len(otid) <= 255 else None
        return attrs


class MessageOut(serializers.Serializer):
    """One Letta message; the fields present depend on message_type."""

    message_type = serializers.ChoiceField(letta.MESSAGE_TYPES)
    id = serializers.CharField()
    date = serializers.DateTimeField()
    run_id = serializers.CharField(allow_null=True)
    step_id = serializers.CharField(allow_null=True)
    content = serializers.CharField(required=False)
    reasoning = serializers.CharField(required=False)
    summary = serializers.CharField(required=False)
    tool_call = serializers.DictField(required=False)
    tool_call_id = serializers.CharField(required=False)
    tool_return = serializers.CharField(required=False)
    status = serializers.CharField(required=False)


class StopReasonOut(serializers.Serializer):
    message_type = serializers.CharField()
    stop_reason = serializers.ChoiceField(Run.StopReason.values)


class UsageOut(serializers.Serializer):
    message_type = serializers.CharField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    total_tokens = serializers.IntegerField()
    step_count = serializers.IntegerField()
    run_ids = serializers.ListField(child=serializers.CharField())
    context_tokens = serializers.IntegerField(allow_null=True, help_text="Our exact count of the last prompt sent.")


class LettaResponseOut(serializers.Serializer):
    messages = MessageOut(many=True)
    stop_reason = StopReasonOut()
    usage = UsageOut()
    error = serializers.CharField(required=False, help_text="Ours: why the turn failed.")


class MessageSearch(serializers.Serializer):
    query = serializers.CharField(max_length=1000)
    agent_id = serializers.CharField(max_length=40, required=False, allow_null=True)
    conversation_id = serializers.CharField(max_length=40, required=False, allow_null=True,
                                            help_text="Conversations do not exist here: ignored.")
    search_mode = serializers.ChoiceField(["hybrid", "vector", "fts"], default="hybrid")
    start_date = serializers.DateTimeField(required=False, allow_null=True)
    end_date = serializers.DateTimeField(required=False, allow_null=True)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=50)


class MessageHitOut(serializers.Serializer):
    message_type = serializers.ChoiceField(["user_message", "assistant_message"])
    message_id = serializers.CharField()
    agent_id = serializers.CharField()
    content = serializers.CharField()
    created_at = serializers.DateTimeField()


class CancelIn(serializers.Serializer):
    run_ids = ids_field()


class ResetIn(serializers.Serializer):
    add_default_initial_messages = serializers.BooleanField(default=False, help_text="Ignored: no initial messages here.")
