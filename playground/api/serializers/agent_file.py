"""Agent files: the export's options and the import's form."""

from rest_framework import serializers

from memory.embeddings import embedding_problem


class ExportQuery(serializers.Serializer):
    include_passages = serializers.BooleanField(default=False, help_text="Ours: put archival passages in the file.")
    scrub_messages = serializers.BooleanField(default=False)
    use_legacy_format = serializers.BooleanField(default=False)
    max_steps = serializers.IntegerField(required=False, min_value=0, help_text="Ignored.")
    conversation_id = serializers.CharField(required=False, allow_null=True, max_length=40, help_text="Ignored.")

    def validate_use_legacy_format(self, value: bool) -> bool:
        if value:
            raise serializers.ValidationError("Only the version 2 agent file format is written here.")
        return value


class ImportForm(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=False)
    name = serializers.CharField(max_length=200, required=False, allow_null=True)
    override_name = serializers.CharField(max_length=200, required=False, allow_null=True)
    append_copy_suffix = serializers.BooleanField(default=False)
    strip_messages = serializers.BooleanField(default=False)
    model = serializers.CharField(max_length=200, required=False, allow_null=True)
    override_model_handle = serializers.CharField(max_length=200, required=False, allow_null=True)
    embedding = serializers.CharField(max_length=200, required=False, allow_null=True)
    override_embedding_handle = serializers.CharField(max_length=200, required=False, allow_null=True)

    def validate(self, attrs: dict) -> dict:
        embedding = attrs.get("embedding") or attrs.get("override_embedding_handle")
        if embedding and (problem := embedding_problem(embedding)):
            raise serializers.ValidationError({"embedding": [problem]})
        return attrs


class ImportOut(serializers.Serializer):
    agent_ids = serializers.ListField(child=serializers.CharField())
