"""Core memory blocks."""

from rest_framework import serializers

from memory.models import Block
from playground.api.serializers.common import MAX_TEXT, ListQuery, PublicId, label_field, text_field


class BlockListQuery(ListQuery):
    label = serializers.CharField(required=False, allow_null=True, max_length=100)
    label_search = serializers.CharField(required=False, allow_null=True, max_length=200)
    value_search = serializers.CharField(required=False, allow_null=True, max_length=200)
    description_search = serializers.CharField(required=False, allow_null=True, max_length=200)
    connected_to_agents_count_gt = serializers.IntegerField(required=False, allow_null=True, min_value=-1, max_value=10**6)
    connected_to_agents_count_lt = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=10**6)
    connected_to_agents_count_eq = serializers.ListField(child=serializers.IntegerField(min_value=0, max_value=10**6),
                                                         required=False, allow_null=True, max_length=100)


class BlockCreate(serializers.Serializer):
    label = label_field()
    value = text_field(allow_blank=True)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_TEXT, default=5000)
    description = text_field(allow_blank=True, allow_null=True, required=False)
    read_only = serializers.BooleanField(default=False)

    def validate(self, attrs: dict) -> dict:
        attrs["description"] = attrs.get("description") or ""
        return attrs


class BlockUpdate(serializers.Serializer):
    label = label_field(required=False)
    value = text_field(allow_blank=True, required=False)
    limit = serializers.IntegerField(min_value=1, max_value=MAX_TEXT, required=False)
    description = text_field(allow_blank=True, allow_null=True, required=False)
    read_only = serializers.BooleanField(required=False)

    def validate(self, attrs: dict) -> dict:
        if "description" in attrs:
            attrs["description"] = attrs["description"] or ""
        return attrs


class BlockOut(serializers.Serializer):
    id = PublicId("block", source="pk")
    label = serializers.CharField()
    value = serializers.CharField()
    limit = serializers.IntegerField()
    description = serializers.CharField()
    read_only = serializers.BooleanField()
    is_template = serializers.SerializerMethodField()
    metadata = serializers.SerializerMethodField()
    tags = serializers.SerializerMethodField()

    def get_is_template(self, block: Block) -> bool:
        return False

    def get_metadata(self, block: Block) -> dict:
        return {}

    def get_tags(self, block: Block) -> list[str]:
        return []
