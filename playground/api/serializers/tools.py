"""The built-in tools and the models an agent can use."""

from rest_framework import serializers


class EmbeddingConfigOut(serializers.Serializer):
    embedding_model = serializers.CharField()
    embedding_endpoint_type = serializers.CharField()
    embedding_dim = serializers.IntegerField()
    handle = serializers.CharField()


class ToolOut(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    json_schema = serializers.DictField()
    tool_type = serializers.CharField()
    source_type = serializers.CharField()
    tags = serializers.ListField(child=serializers.CharField())


class ModelOut(serializers.Serializer):
    handle = serializers.CharField()
    name = serializers.CharField()
    model = serializers.CharField()
    model_endpoint_type = serializers.CharField()
    provider_type = serializers.CharField()
    context_window = serializers.IntegerField()
    max_context_window = serializers.IntegerField()
