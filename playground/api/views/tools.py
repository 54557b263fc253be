"""The built-in tools (every agent has all of them) and the configured models."""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.request import Request
from rest_framework.response import Response

from agents.llm import model_name
from agents.selectors import agent_for_owner
from playground.api import letta
from playground.api import serializers as s
from playground.api.ids import from_id
from playground.api.views.base import ApiView

TAG = ["tools and models"]


class ToolList(ApiView):
    @extend_schema(tags=TAG, summary="The built-in tools", responses=s.ToolOut(many=True))
    def get(self, request: Request) -> Response:
        return Response([letta.tool(name) for name in letta.TOOLS])


class ToolDetail(ApiView):
    @extend_schema(tags=TAG, summary="One built-in tool", responses=s.ToolOut)
    def get(self, request: Request, tool_id: str) -> Response:
        name = tool_id.removeprefix("tool-")
        if name not in letta.TOOLS:
            raise NotFound(f"No tool {tool_id[:100]!r}: only the built-in tools exist here.")
        return Response(letta.tool(name))


class AgentTools(ApiView):
    @extend_schema(tags=TAG, summary="An agent's tools (all the built-in ones)", responses=s.ToolOut(many=True))
    def get(self, request: Request, agent_id: str) -> Response:
        agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id))
        return Response([letta.tool(name) for name in letta.TOOLS])


class ModelList(ApiView):
    @extend_schema(tags=TAG, summary="The configured LLM (LLM_MODEL); agents may name any model the server has",
                   responses=s.ModelOut(many=True))
    def get(self, request: Request) -> Response:
        if not settings.LLM_MODEL:
            return Response([])
        name = model_name("")
        return Response([{"handle": letta.model_handle(""), "name": name, "model": name, "display_name": name,
                          "model_endpoint_type": "openai", "model_endpoint": letta.public_endpoint(settings.OPENAI_BASE_URL),
                          "provider_type": "openai", "provider_name": "openai", "model_type": "llm",
                          "context_window": settings.AGENT_CONTEXT_WINDOW,
                          "max_context_window": settings.AGENT_CONTEXT_WINDOW}])


class EmbeddingModelList(ApiView):
    @extend_schema(tags=TAG, summary="The embedding model new folders use (EMBEDDING_MODEL)",
                   responses=s.EmbeddingConfigOut(many=True))
    def get(self, request: Request) -> Response:
        config = letta.embedding_config(settings.EMBEDDING_MODEL)
        provider = "openai" if config["embedding_endpoint_type"] == "openai" else "hugging-face"
        return Response([{**config, "name": config["embedding_model"], "display_name": config["embedding_model"],
                          "provider_name": provider, "provider_type": provider, "model_type": "embedding"}])
