from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AgentsConfig(AppConfig):
    name = "agents"

    def ready(self) -> None:
        post_migrate.connect(_builtin_tools_sync, sender=self)


def _builtin_tools_sync(**kwargs) -> None:
    from agents.services import builtin_tools_sync

    builtin_tools_sync()
