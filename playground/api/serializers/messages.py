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
    stream_tokens = serializers.BooleanField(default=False, help_text=(
        "Stream the answer's pieces as the model writes them (reasoning, assistant and tool-call chunks that "
        "share a message id), instead of each message whole once it is stored."))
    include_pings = serializers.BooleanField(default=False)
    background = serializers.BooleanField(default=False, help_text=(
        "Every turn runs in the worker and keeps its numbered events (seq_id) whatever the client does; "
        "read them again from any point with /v1/runs/{run_id}/stream. Without streaming, the answer is "
        "the run to poll, at once."))
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


class RunStreamIn(serializers.Serializer):
    starting_after = serializers.IntegerField(default=0, min_value=0, help_text=(
        "The seq_id of the last chunk received: the stream goes on after it (0: from the start)."))
    include_pings = serializers.BooleanField(required=False, allow_null=True, default=None)
    stream_tokens = serializers.BooleanField(required=False, allow_null=True, default=None, help_text=(
        "Default: as the request that started the run asked."))
    use_assistant_message = serializers.BooleanField(required=False, allow_null=True, default=None)
    include_return_message_types = serializers.ListField(child=serializers.ChoiceField(letta.MESSAGE_TYPES),
                                                         required=False, allow_null=True, default=None, max_length=20)
    batch_size = serializers.IntegerField(required=False, allow_null=True, min_value=1, help_text="Accepted; unused.")
    poll_interval = serializers.FloatField(required=False, allow_null=True, min_value=0, help_text="Accepted; unused.")


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


class AllMessagesQuery(ListQuery):
    """GET /v1/messages/: the messages of all one's agents."""

    include_return_message_types = serializers.ListField(child=serializers.ChoiceField(letta.MESSAGE_TYPES),
                                                         required=False, allow_null=True, max_length=20)
    conversation_id = serializers.CharField(max_length=40, required=False, allow_null=True,
                                            help_text="Conversations do not exist here: ignored.")


EDITABLE_TYPES = ("system_message", "user_message", "reasoning_message", "assistant_message")


class MessageEdit(serializers.Serializer):
    """Letta's UpdateSystemMessage, UpdateUserMessage, UpdateReasoningMessage or UpdateAssistantMessage,
    told apart by message_type: `reasoning` for a reasoning_message, `content` for the others."""

    message_type = serializers.ChoiceField(EDITABLE_TYPES)
    content = serializers.JSONField(required=False, help_text="Text, or a list of text parts.")
    reasoning = serializers.CharField(required=False, allow_blank=True, trim_whitespace=False)

    def validate(self, attrs: dict) -> dict:
        if attrs["message_type"] == "reasoning_message":
            if "reasoning" not in attrs:
                raise serializers.ValidationError({"reasoning": ["A reasoning_message is edited with reasoning."]})
            attrs["text"] = attrs["reasoning"]
        else:
            if "content" not in attrs:
                raise serializers.ValidationError({"content": [f"A {attrs['message_type']} is edited with content."]})
            attrs["text"] = _content_text(attrs["content"], "content")
        if len(attrs["text"]) > settings.MESSAGE_MAX_CHARS:
            raise PayloadTooLarge(f"The message has {len(attrs['text'])} characters; the limit is "
                                  f"{settings.MESSAGE_MAX_CHARS} (MESSAGE_MAX_CHARS).", code="message_too_long")
        return attrs


class CompactionOut(serializers.Serializer):
    summary = serializers.CharField()
    num_messages_before = serializers.IntegerField(help_text="Messages in the context window when it was asked for "
                                                             "(the summary among them, not the system prompt).")
    num_messages_after = serializers.IntegerField()


class CompactionIn(serializers.Serializer):
    compaction_settings = serializers.JSONField(required=False, allow_null=True,
                                                help_text="Ignored: the agent's own model and evict share apply.")
