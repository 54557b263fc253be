"""Tools (built-in ones and a person's Python functions), tool rules, and the models an agent can use."""

import re
from typing import Any

from rest_framework import serializers
from rest_framework.exceptions import NotFound

from agents.agent_file import TOOL_RULE_TYPES, ToolRuleField, requirement_text
from agents.tools.schema import MAX_SOURCE_CHARS
from playground.api.ids import from_ids
from playground.api.serializers.common import ListQuery, text_field

TOOL_TYPES = ["custom", "letta_core", "letta_memory_core"]  # the kinds of tool that exist here
REQUIREMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
REQUIREMENT_VERSION = re.compile(r"^(==|>=|<=|~=|!=|>|<)?\s*[A-Za-z0-9.*+!_-]{1,60}$")


class EmbeddingConfigOut(serializers.Serializer):
    embedding_model = serializers.CharField()
    embedding_endpoint_type = serializers.CharField()
    embedding_dim = serializers.IntegerField()
    handle = serializers.CharField()


class PipRequirement(serializers.Serializer):
    name = serializers.RegexField(REQUIREMENT_NAME, error_messages={"invalid": "A package name as pip spells it."})
    version = serializers.RegexField(REQUIREMENT_VERSION, required=False, allow_null=True, allow_blank=True,
                                     error_messages={"invalid": "A version (1.2.3) or a specifier (>=1.2)."})


class _ToolFields(serializers.Serializer):
    """What create, upsert and modify share; the validated data are tool_create's and tool_update's arguments."""

    description = text_field(required=False, allow_null=True, allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=100), max_length=100, required=False,
                                 allow_null=True)
    return_char_limit = serializers.IntegerField(min_value=1, max_value=1_000_000, required=False, allow_null=True)
    pip_requirements = PipRequirement(many=True, required=False, allow_null=True, max_length=50)
    source_type = serializers.ChoiceField(["python"], required=False, allow_null=True,
                                          help_text="Python only.")
    json_schema = serializers.JSONField(required=False, allow_null=True,
                                        help_text="Ignored: the schema is always read from the source.")
    args_json_schema = serializers.JSONField(required=False, allow_null=True, help_text="Ignored.")
    npm_requirements = serializers.JSONField(required=False, allow_null=True, help_text="Refused: Python tools only.")
    default_requires_approval = serializers.BooleanField(required=False, allow_null=True, help_text="Ignored.")
    enable_parallel_execution = serializers.BooleanField(required=False, allow_null=True, help_text="Ignored.")

    def validate(self, attrs: dict) -> dict:
        if attrs.get("npm_requirements"):
            raise serializers.ValidationError({"npm_requirements": ["Tools here are Python functions only."]})
        changes: dict[str, Any] = {}
        for name in ("source_code", "description", "tags", "return_char_limit"):
            if attrs.get(name) is not None:
                changes[name] = attrs[name]
        if attrs.get("pip_requirements") is not None:
            changes["pip_requirements"] = [requirement_text(r) for r in attrs["pip_requirements"]]
        return changes


class ToolCreate(_ToolFields):
    source_code = serializers.CharField(trim_whitespace=False, max_length=MAX_SOURCE_CHARS,
                                        help_text="One Python function, typed, with a docstring.")


class ToolUpdate(_ToolFields):
    source_code = serializers.CharField(trim_whitespace=False, max_length=MAX_SOURCE_CHARS, required=False,
                                        allow_null=True)
    metadata = serializers.JSONField(required=False, allow_null=True, help_text="Ignored.")


def _names(value: list[str] | None) -> list[str]:
    """Repeated parameters or comma-separated values, as Letta takes both."""
    return [part.strip() for item in value or [] for part in item.split(",") if part.strip()]


def _list_of_text(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(child=serializers.CharField(max_length=200), required=False, allow_null=True,
                                 max_length=100, **kwargs)


class ToolListQuery(ListQuery):
    name = serializers.CharField(required=False, allow_null=True, max_length=200)
    names = _list_of_text()
    search = serializers.CharField(required=False, allow_null=True, max_length=200, help_text="Part of the name.")
    tool_ids = _list_of_text()
    tool_types = _list_of_text(help_text=f"Of {', '.join(TOOL_TYPES)}.")
    exclude_tool_types = _list_of_text()
    return_only_letta_tools = serializers.BooleanField(required=False, allow_null=True)

    def validate(self, attrs: dict) -> dict:
        for name in ("names", "tool_ids", "tool_types", "exclude_tool_types"):
            if name in attrs:
                attrs[name] = _names(attrs[name])
        try:
            attrs["tool_keys"] = from_ids("tool", attrs.get("tool_ids"))
        except NotFound as error:
            raise serializers.ValidationError({"tool_ids": [str(error.detail)]}) from None
        return attrs


class AgentToolListQuery(ListQuery):
    pass


class ToolSearch(serializers.Serializer):
    query = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=1000)
    search_mode = serializers.ChoiceField(["vector", "fts", "hybrid"], default="hybrid",
                                          help_text="Every mode matches words of the name, description and tags.")
    tags = serializers.ListField(child=serializers.CharField(max_length=100), max_length=100, required=False,
                                 allow_null=True)
    tool_types = serializers.ListField(child=serializers.CharField(max_length=40), max_length=20, required=False,
                                       allow_null=True)
    limit = serializers.IntegerField(min_value=1, max_value=100, default=50)


class ToolRun(serializers.Serializer):
    args = serializers.DictField(required=False, default=dict, help_text="The tool's arguments, by name.")


class PipRequirementOut(serializers.Serializer):
    name = serializers.CharField()
    version = serializers.CharField(allow_null=True)


class ToolOut(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    json_schema = serializers.DictField()
    tool_type = serializers.CharField()
    source_type = serializers.CharField()
    source_code = serializers.CharField(allow_null=True)
    tags = serializers.ListField(child=serializers.CharField())
    return_char_limit = serializers.IntegerField()
    pip_requirements = PipRequirementOut(many=True)
    created_by_id = serializers.CharField(allow_null=True)


class ToolSearchResultOut(serializers.Serializer):
    tool = ToolOut()
    combined_score = serializers.FloatField()


class ToolRunOut(serializers.Serializer):
    status = serializers.ChoiceField(["success", "error"])
    func_return = serializers.JSONField(allow_null=True)
    stdout = serializers.ListField(child=serializers.CharField())
    stderr = serializers.ListField(child=serializers.CharField())
    tool_return = serializers.CharField(help_text="Ours: what the model would read.")
    error = serializers.CharField(allow_null=True, help_text="Ours.")
    traceback = serializers.CharField(allow_null=True, help_text="Ours: the frames of the tool's own source.")
    duration = serializers.FloatField(help_text="Ours: seconds.")


def tool_rules_field(**kwargs: Any) -> serializers.ListField:
    return serializers.ListField(child=ToolRuleField(), required=False, allow_null=True, max_length=100,
                                 help_text=f"Letta's tool rules; type one of {', '.join(TOOL_RULE_TYPES)}.", **kwargs)


class ModelListQuery(serializers.Serializer):
    provider_name = serializers.CharField(required=False, allow_null=True, max_length=64,
                                          help_text="A server's name: openai (the playground's) or one of yours.")
    provider_type = serializers.CharField(required=False, allow_null=True, max_length=40)
    provider_category = serializers.ListField(child=serializers.ChoiceField(["base", "byok"]), required=False,
                                              allow_null=True)


class ModelOut(serializers.Serializer):
    handle = serializers.CharField()
    name = serializers.CharField()
    model = serializers.CharField()
    model_endpoint_type = serializers.CharField()
    provider_type = serializers.CharField()
    provider_name = serializers.CharField()
    provider_category = serializers.CharField()
    context_window = serializers.IntegerField(help_text="AGENT_CONTEXT_WINDOW where the server does not say.")
    max_context_window = serializers.IntegerField()
    context_window_known = serializers.BooleanField(help_text="Ours: whether the server reported the window.")
