from django.urls import path

from playground.consumers import AgentConsumer, GroupConsumer, SourceConsumer

websocket_urlpatterns = [
    path("ws/agents/<int:agent_id>/", AgentConsumer.as_asgi()),
    path("ws/groups/<int:group_id>/", GroupConsumer.as_asgi()),
    path("ws/sources/<int:source_id>/", SourceConsumer.as_asgi()),
]
