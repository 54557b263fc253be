"""Folders of documents (our Sources) and their files."""

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from memory.models import Document, Source
from playground.api import letta
from playground.api.serializers.common import PublicId, text_field
from playground.api.serializers.tools import EmbeddingConfigOut


class FolderCreate(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = text_field(allow_blank=True, allow_null=True, required=False)
    instructions = text_field(allow_blank=True, allow_null=True, required=False, help_text="Ignored.")
    embedding = serializers.CharField(max_length=200, required=False, allow_null=True,
                                      help_text=f"Only the server's own ({'EMBEDDING_MODEL'}) is possible.")
    embedding_config = serializers.JSONField(required=False, allow_null=True, help_text="Ignored.")
    metadata = serializers.JSONField(required=False, allow_null=True, help_text="Ignored.")

    def validate_embedding(self, value: str | None) -> str | None:
        if value and value != settings.EMBEDDING_MODEL:
            raise serializers.ValidationError(f"Documents are embedded with {settings.EMBEDDING_MODEL} on this server.")
        return value


class FolderUpdate(serializers.Serializer):
    name = serializers.CharField(max_length=200, required=False)
    description = text_field(allow_blank=True, allow_null=True, required=False)


class FolderOut(serializers.Serializer):
    id = PublicId("source", source="pk")
    name = serializers.CharField()
    description = serializers.CharField()
    instructions = serializers.SerializerMethodField()
    embedding_config = serializers.SerializerMethodField()
    metadata = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField(source="created_at")

    def get_instructions(self, folder: Source) -> str:
        return ""

    @extend_schema_field(EmbeddingConfigOut)
    def get_embedding_config(self, folder: Source) -> dict:
        return letta.embedding_config(settings.EMBEDDING_MODEL)  # documents are embedded with it

    def get_metadata(self, folder: Source) -> dict:
        return {}


class FileUpload(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=False)
    duplicate_handling = serializers.ChoiceField(["skip", "error", "suffix", "replace"], default="suffix")
    name = serializers.CharField(max_length=255, required=False, allow_null=True)


FILE_STATUS = {Document.Status.PENDING: "pending", Document.Status.PARSING: "parsing",
               Document.Status.EMBEDDING: "embedding", Document.Status.DONE: "completed",
               Document.Status.ERROR: "error", Document.Status.CANCELLED: "error"}


class FileOut(serializers.Serializer):
    id = PublicId("file", source="pk")
    source_id = PublicId("source")
    file_name = serializers.CharField(source="filename")
    original_file_name = serializers.CharField(source="filename")
    file_size = serializers.IntegerField(source="size")
    file_type = serializers.CharField(source="content_type")
    processing_status = serializers.SerializerMethodField()
    error_message = serializers.SerializerMethodField()
    total_chunks = serializers.IntegerField(source="chunks_total")
    chunks_embedded = serializers.IntegerField()
    pages_total = serializers.IntegerField(help_text="Ours.")
    pages_parsed = serializers.IntegerField(help_text="Ours.")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    @extend_schema_field(serializers.ChoiceField(sorted(set(FILE_STATUS.values()))))
    def get_processing_status(self, document: Document) -> str:
        return FILE_STATUS.get(document.status, "error")

    def get_error_message(self, document: Document) -> str | None:
        return document.error or None
