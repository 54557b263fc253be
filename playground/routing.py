from django.urls import path

from playground.consumers import AgentConsumer

websocket_urlpatterns = [
    path("ws/agents/<int:agent_id>/", AgentConsumer.as_asgi()),
]
