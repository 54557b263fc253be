"""Groups of agents, in Letta's shapes (GroupCreate, GroupUpdate, Group; manager_config by manager_type)."""

from rest_framework import serializers

from agents.models import Group
from playground.api.serializers.common import ListQuery, ids_field

MANAGER_TYPES = [Group.Kind.ROUND_ROBIN, Group.Kind.SUPERVISOR, Group.Kind.SLEEPTIME]


class ManagerConfig(serializers.Serializer):
    manager_type = serializers.ChoiceField(MANAGER_TYPES + ["dynamic", "voice_sleeptime", "swarm"],
                                           default=Group.Kind.ROUND_ROBIN)
    max_turns = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    manager_agent_id = serializers.CharField(required=False, allow_null=True, max_length=40)
    sleeptime_agent_frequency = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=1000)
    sleeptime_quiet_seconds = serializers.FloatField(required=False, allow_null=True, min_value=1.0,
                                                     help_text="Ours: run the sleep-time agents after this long without a message.")
    termination_token = serializers.CharField(required=False, allow_null=True, max_length=100, help_text="Ignored.")

    def validate_manager_type(self, value: str) -> str:
        if value not in MANAGER_TYPES:
            raise serializers.ValidationError(f"The playground has round_robin, supervisor and sleeptime groups, not {value}.")
        return value


class GroupCreate(serializers.Serializer):
    agent_ids = ids_field()
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    manager_config = ManagerConfig(required=False)
    shared_block_ids = ids_field()
    project_id = serializers.CharField(required=False, allow_null=True, help_text="Ignored.")
    hidden = serializers.BooleanField(required=False, allow_null=True, help_text="Ignored.")

    def validate(self, attrs: dict) -> dict:
        if not attrs.get("agent_ids"):
            raise serializers.ValidationError({"agent_ids": ["A group needs at least one agent."]})
        attrs.setdefault("manager_config", {"manager_type": Group.Kind.ROUND_ROBIN})
        return attrs


class GroupUpdate(serializers.Serializer):
    agent_ids = ids_field()
    description = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    manager_config = ManagerConfig(required=False, allow_null=True)


class GroupListQuery(ListQuery):
    manager_type = serializers.ChoiceField(MANAGER_TYPES, required=False, allow_null=True)


class GroupOut(serializers.Serializer):
    """Letta's Group."""

    id = serializers.CharField()
    manager_type = serializers.CharField()
    agent_ids = serializers.ListField(child=serializers.CharField())
    description = serializers.CharField()
    shared_block_ids = serializers.ListField(child=serializers.CharField())
    manager_agent_id = serializers.CharField(allow_null=True)
    max_turns = serializers.IntegerField(allow_null=True)
    sleeptime_agent_frequency = serializers.IntegerField(allow_null=True)
    turns_counter = serializers.IntegerField(allow_null=True)
    last_processed_message_id = serializers.CharField(allow_null=True)
