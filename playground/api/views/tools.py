"""/v1/tools: the built-in tools and a person's own Python functions; an agent's tool set, and a
tool run by hand on an agent; the configured models.

A custom tool belongs to its owner: another user's is not found (404). Built-in tools are shared
and read-only: changing or deleting one is refused with 403."""

from django.conf import settings
from django.db import IntegrityError
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from agents.llm.catalog import model_catalog
from agents.selectors import agent_for_owner
from agents.services import tool_attach, tool_create, tool_delete, tool_detach, tool_run, tool_update, tool_upsert
from agents.tools.schema import ToolSourceError
from playground.api import letta
from playground.api import serializers as s
from playground.api.serializers import tools as ts
from playground.api.errors import Conflict
from playground.api.ids import from_id
from playground.api.selectors import agent_tools, tool_for_owner, tools_matching, tools_search
from playground.api.views.agents import agent_out
from playground.api.views.base import ApiView, body, listed, listed_in_order, query

TAG = ["tools and models"]


def _source_problem(error: ToolSourceError) -> serializers.ValidationError:
    return serializers.ValidationError({"source_code": [str(error)]})


def _name_taken() -> Conflict:
    return Conflict("You have a tool of that name already: change that one (PATCH /v1/tools/{id}), or send its new "
                    "source to PUT /v1/tools/ to replace it.", code="tool_name_taken")


def _read_only(error: PermissionError) -> PermissionDenied:
    return PermissionDenied(f"{error}.", code="builtin_tool")


def _tool(request: Request, tool_id: str):
    return tool_for_owner(request.user, from_id("tool", tool_id))


class ToolList(ApiView):
    @extend_schema(tags=TAG, summary="List the built-in tools and your own", parameters=[ts.ToolListQuery],
                   responses=s.ToolOut(many=True))
    def get(self, request: Request) -> Response:
        params = query(request, ts.ToolListQuery)
        types = params.get("tool_types") or (["letta_core", "letta_memory_core"] if params.get("return_only_letta_tools") else None)
        tools = tools_matching(request.user, builtin_types=letta.TOOL_TYPES, name=params.get("name"),
                               names=params.get("names"), search=params.get("search"),
                               pks=params["tool_keys"], types=types,
                               exclude_types=params.get("exclude_tool_types"))
        return Response([letta.tool(t) for t in listed(tools, params, "tool")])

    @extend_schema(tags=TAG, summary="Create a tool from the source of a Python function", request=ts.ToolCreate,
                   responses={201: s.ToolOut})
    def post(self, request: Request) -> Response:
        fields = body(request, ts.ToolCreate)
        try:
            tool = tool_create(owner=request.user, **fields)
        except ToolSourceError as error:
            raise _source_problem(error) from None
        except IntegrityError:
            raise _name_taken() from None
        return Response(letta.tool(tool), status=status.HTTP_201_CREATED)

    @extend_schema(tags=TAG, summary="Create a tool, or replace the source of yours of the same name",
                   request=ts.ToolCreate, responses=s.ToolOut)
    def put(self, request: Request) -> Response:
        fields = body(request, ts.ToolCreate)
        try:
            tool = tool_upsert(owner=request.user, **fields)
        except ToolSourceError as error:
            raise _source_problem(error) from None
        except IntegrityError:  # the same name made at the same moment by another request
            raise _name_taken() from None
        return Response(letta.tool(tool))


class ToolSearch(ApiView):
    @extend_schema(tags=TAG, summary="Search tools by words of their name, description and tags",
                   request=ts.ToolSearch, responses=ts.ToolSearchResultOut(many=True))
    def post(self, request: Request) -> Response:
        params = body(request, ts.ToolSearch)
        found = tools_search(request.user, query=params.get("query") or "", builtin_types=letta.TOOL_TYPES,
                             types=params.get("tool_types"), tags=params.get("tags"), limit=params["limit"])
        return Response([{"tool": letta.tool(t), "combined_score": score, "embedded_text": None, "fts_rank": rank,
                          "vector_rank": None} for rank, (t, score) in enumerate(found, 1)])


class ToolDetail(ApiView):
    @extend_schema(tags=TAG, summary="Retrieve a tool", responses=s.ToolOut)
    def get(self, request: Request, tool_id: str) -> Response:
        return Response(letta.tool(_tool(request, tool_id)))

    @extend_schema(tags=TAG, summary="Modify one of your tools (new source: a new name and schema)",
                   request=ts.ToolUpdate, responses=s.ToolOut)
    def patch(self, request: Request, tool_id: str) -> Response:
        tool = _tool(request, tool_id)
        changes = body(request, ts.ToolUpdate)
        try:
            tool = tool_update(tool=tool, **changes)
        except ToolSourceError as error:
            raise _source_problem(error) from None
        except PermissionError as error:
            raise _read_only(error) from None
        except IntegrityError:
            raise _name_taken() from None
        return Response(letta.tool(tool))

    @extend_schema(tags=TAG, summary="Delete one of your tools (agents lose it)", responses=s.DeletedOut)
    def delete(self, request: Request, tool_id: str) -> Response:
        try:
            tool_delete(tool=_tool(request, tool_id))
        except PermissionError as error:
            raise _read_only(error) from None
        return Response({"message": f"Tool {tool_id} deleted."})


class AgentTools(ApiView):
    @extend_schema(tags=TAG, summary="An agent's tools", parameters=[ts.AgentToolListQuery],
                   responses=s.ToolOut(many=True))
    def get(self, request: Request, agent_id: str) -> Response:
        agent = agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id))
        params = query(request, ts.AgentToolListQuery)
        return Response([letta.tool(t) for t in listed_in_order(agent_tools(agent), params, "tool")])


class AgentToolAttach(ApiView):
    @extend_schema(tags=TAG, summary="Give an agent a tool", request=None, responses=s.AgentOut)
    def patch(self, request: Request, agent_id: str, tool_id: str) -> Response:
        agent = agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id))
        tool_attach(agent=agent, tool=_tool(request, tool_id))
        return Response(agent_out(request.user, agent.pk))


class AgentToolDetach(ApiView):
    @extend_schema(tags=TAG, summary="Take a tool from an agent", request=None, responses=s.AgentOut)
    def patch(self, request: Request, agent_id: str, tool_id: str) -> Response:
        agent = agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id))
        tool_detach(agent=agent, tool=_tool(request, tool_id))
        return Response(agent_out(request.user, agent.pk))


class AgentToolRun(ApiView):
    @extend_schema(tags=TAG, summary="Run one of the agent's custom tools by hand, in the sandbox, with the agent's state",
                   request=ts.ToolRun, responses=ts.ToolRunOut)
    def post(self, request: Request, agent_id: str, tool_name: str) -> Response:
        agent = agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id))
        arguments = body(request, ts.ToolRun)["args"]
        tool = next((t for t in agent_tools(agent) if t.name == tool_name), None)
        if tool is None:
            raise NotFound(f"{agent.name} has no tool named {tool_name[:64]!r}.")
        if tool.kind != "custom":
            raise serializers.ValidationError({"tool_name": [
                f"{tool.name} is a built-in tool: it acts on the agent's memory and runs only in a turn."]})
        return Response(letta.tool_run(tool_run(tool=tool, arguments=arguments, agent=agent)))


class ModelList(ApiView):
    @extend_schema(tags=TAG, summary="Every model of the playground's server (\"openai/<model>\", LLM_MODEL first) and "
                   "of your model servers (\"<server>/<model>\"), with context windows where the servers report them",
                   parameters=[ts.ModelListQuery], responses=s.ModelOut(many=True))
    def get(self, request: Request) -> Response:
        params = query(request, ts.ModelListQuery)
        catalog = model_catalog(owner=request.user)
        models = [letta.model(m) for m in catalog.models]
        for field in ("provider_name", "provider_type"):
            if params.get(field):
                models = [m for m in models if m[field] == params[field]]
        if params.get("provider_category"):
            models = [m for m in models if m["provider_category"] in params["provider_category"]]
        # names only: a reason may quote the server's address, and the operator's is not for callers
        failed = {"Model-Servers-Unlisted": ", ".join(sorted(catalog.failures))} if catalog.failures else None
        return Response(models, headers=failed)


class EmbeddingModelList(ApiView):
    @extend_schema(tags=TAG, summary="The embedding model new folders use (EMBEDDING_MODEL)",
                   responses=s.EmbeddingConfigOut(many=True))
    def get(self, request: Request) -> Response:
        config = letta.embedding_config(settings.EMBEDDING_MODEL)
        provider = "openai" if config["embedding_endpoint_type"] == "openai" else "hugging-face"
        return Response([{**config, "name": config["embedding_model"], "display_name": config["embedding_model"],
                          "provider_name": provider, "provider_type": provider, "model_type": "embedding"}])
