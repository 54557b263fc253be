"""Forks and continued steps (agents/history/fork.py)."""

from rest_framework import serializers


class ForkIn(serializers.Serializer):
    step_id = serializers.CharField(help_text="The step to fork just before: the fork's next request is that "
                                              "step's own request, byte for byte.")
    name = serializers.CharField(required=False, allow_blank=True, max_length=200,
                                 help_text="The fork's name; by default the agent's, saying which step it forks.")
