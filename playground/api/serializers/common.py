"""What the serializers of every resource share: text, label, id and tag fields, list parameters."""

from typing import Any

from rest_framework import serializers

from agents.agent_file import LABEL, MAX_TEXT
from playground.api.ids import to_id


def text_field(**kwargs: Any) -> serializers.CharField:
    """A text field that keeps whitespace as given (block values, prompts)."""
    return serializers.CharField(trim_whitespace=False, max_length=MAX_TEXT, **kwargs)


def label_field(**kwargs: Any) -> serializers.RegexField:
    return serializers.RegexField(LABEL, max_length=100, error_messages={
        "invalid": "A label may hold letters, digits, '_', '-' and '.', without spaces."}, **kwargs)


def ids_field(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField(max_length=40), max_length=1000, allow_null=True,
                                 required=False, **kwargs)


def tags_field() -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField(max_length=100), max_length=100, allow_null=True,
                                 required=False)


class PublicId(serializers.CharField):
    """A key as the API spells it ("agent-12"); `source` names the key (the field's own name by default)."""

    def __init__(self, kind: str, **kwargs: Any) -> None:
        self.kind = kind
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value: int) -> str:
        return to_id(self.kind, value)


class DeletedOut(serializers.Serializer):
    message = serializers.CharField()


class ListQuery(serializers.Serializer):
    after = serializers.CharField(required=False, allow_null=True, max_length=40, help_text="Cursor: an id of this list.")
    before = serializers.CharField(required=False, allow_null=True, max_length=40, help_text="Cursor: an id of this list.")
    limit = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=1000)
    order = serializers.ChoiceField(["asc", "desc"], required=False)
    order_by = serializers.CharField(required=False, max_length=40, help_text="Ignored: lists are in creation order.")
