"""Archival memory: passages, and search over them."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from memory.models import Passage
from playground.api import letta
from playground.api.serializers.common import ListQuery, PublicId, tags_field, text_field
from playground.api.serializers.tools import EmbeddingConfigOut


class PassageListQuery(ListQuery):
    ascending = serializers.BooleanField(required=False, allow_null=True)
    search = serializers.CharField(required=False, allow_null=True, max_length=1000, help_text="Words the text contains.")


class PassageCreate(serializers.Serializer):
    text = text_field()
    tags = tags_field()
    created_at = serializers.DateTimeField(required=False, allow_null=True, help_text="Ignored: set when stored.")


class PassageOut(serializers.Serializer):
    id = PublicId("passage", source="pk")
    text = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField(source="created_at")
    agent_id = PublicId("agent", allow_null=True, help_text="Ours: the agent whose own memory it is.")
    file_id = PublicId("file", source="document_id", allow_null=True)
    file_name = serializers.SerializerMethodField()
    source_id = PublicId("source", source="document.source_id", allow_null=True)
    embedding = serializers.SerializerMethodField()
    embedding_config = serializers.SerializerMethodField()
    metadata = serializers.SerializerMethodField()

    def get_file_name(self, passage: Passage) -> str | None:
        return passage.document.filename if passage.document_id else None

    @extend_schema_field(serializers.ListField(child=serializers.FloatField(), allow_null=True))
    def get_embedding(self, passage: Passage) -> None:
        return None  # vectors stay on the server

    @extend_schema_field(EmbeddingConfigOut)
    def get_embedding_config(self, passage: Passage) -> dict:
        return letta.embedding_config(passage.embedding_model)

    def get_metadata(self, passage: Passage) -> dict:
        if passage.page_start is None:
            return {}
        return {"page_start": passage.page_start, "page_end": passage.page_end}


class ArchivalSearchQuery(serializers.Serializer):
    query = serializers.CharField(max_length=1000)
    tags = tags_field()
    tag_match_mode = serializers.ChoiceField(["any", "all"], default="any")
    top_k = serializers.IntegerField(min_value=1, max_value=100, required=False, allow_null=True)
    start_datetime = serializers.DateTimeField(required=False, allow_null=True)
    end_datetime = serializers.DateTimeField(required=False, allow_null=True)


class ArchivalHitOut(serializers.Serializer):
    id = serializers.CharField()
    content = serializers.CharField()
    timestamp = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())


class ArchivalSearchOut(serializers.Serializer):
    count = serializers.IntegerField()
    results = ArchivalHitOut(many=True)


class PassageSearch(serializers.Serializer):
    query = serializers.CharField(max_length=1000, required=False, allow_null=True, allow_blank=True)
    agent_id = serializers.CharField(max_length=40, required=False, allow_null=True)
    archive_id = serializers.CharField(max_length=40, required=False, allow_null=True,
                                       help_text="Archives do not exist here: use agent_id.")
    tags = tags_field()
    tag_match_mode = serializers.ChoiceField(["any", "all"], default="any")
    start_date = serializers.DateTimeField(required=False, allow_null=True)
    end_date = serializers.DateTimeField(required=False, allow_null=True)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=50)
    search_mode = serializers.ChoiceField(["hybrid", "vector", "fts"], default="hybrid", help_text="Ours.")


class PassageHitOut(serializers.Serializer):
    passage = PassageOut()
    score = serializers.FloatField(help_text="Reciprocal-rank-fusion score: higher is better.")
    metadata = serializers.DictField()
