"""/v1/providers (Letta's Provider, ProviderCreate, ProviderUpdate): a person's model servers.
A key goes in and never comes out: `api_key` is always null in answers."""

from rest_framework import serializers

from agents.models import ModelServer
from playground.api.serializers.common import ListQuery

KINDS = ModelServer.Kind.values


class ProviderListQuery(ListQuery):
    name = serializers.CharField(required=False, allow_null=True, max_length=64)
    provider_type = serializers.CharField(required=False, allow_null=True, max_length=40)
    provider_category = serializers.ListField(child=serializers.CharField(max_length=10), required=False,
                                              allow_null=True, help_text="byok: yours (the only ones listed here).")


class ProviderCreate(serializers.Serializer):
    name = serializers.CharField(max_length=64, help_text="Models of it are named <name>/<model>.")
    provider_type = serializers.ChoiceField(KINDS, default=ModelServer.Kind.OTHER)
    api_key = serializers.CharField(max_length=2000, required=False, allow_blank=True, allow_null=True,
                                    help_text="Kept encrypted; never shown again.")
    base_url = serializers.CharField(max_length=500, required=False, allow_null=True,
                                     help_text="The OpenAI-compatible API's address (…/v1); api.openai.com "
                                               "for provider_type openai when left out.")

    def validate(self, attrs: dict) -> dict:
        if not attrs.get("base_url"):
            if attrs["provider_type"] != ModelServer.Kind.OPENAI:
                raise serializers.ValidationError({"base_url": ["The server's address, like http://localhost:8000/v1."]})
            attrs["base_url"] = "https://api.openai.com/v1"
        attrs["api_key"] = attrs.get("api_key") or ""
        return attrs


class ProviderUpdate(serializers.Serializer):
    api_key = serializers.CharField(max_length=2000, required=False, allow_blank=True, allow_null=True,
                                    help_text="A new key (\"\" removes it); left out, the key stays.")
    base_url = serializers.CharField(max_length=500, required=False, allow_null=True)
    provider_type = serializers.ChoiceField(KINDS, required=False, help_text="Ours: the kind of server.")
    access_key = serializers.CharField(required=False, allow_null=True, help_text="Ignored (cloud providers').")
    region = serializers.CharField(required=False, allow_null=True, help_text="Ignored (cloud providers').")


class ProviderOut(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    provider_type = serializers.CharField()
    provider_category = serializers.CharField()
    api_key = serializers.CharField(allow_null=True, help_text="Always null: a key is never shown again.")
    api_key_set = serializers.BooleanField(help_text="Ours: whether a key is stored.")
    base_url = serializers.CharField()
    access_key = serializers.CharField(allow_null=True)
    region = serializers.CharField(allow_null=True)
    api_version = serializers.CharField(allow_null=True)
    updated_at = serializers.DateTimeField()
