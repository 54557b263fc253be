"""/v1/agents: create, list, retrieve, update, delete; context window; export and import."""

import json

from django.db import transaction
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from agents.agent_file import agent_file_export, agent_file_import, agent_file_read
from agents.groups import sleeptime_companion
from agents.selectors import agent_context, agent_for_owner, agent_tags
from agents.services import agent_create_with_folders, agent_delete, agent_update
from memory.models import Block, Source
from playground.api import letta
from playground.api import serializers as s
from playground.api.errors import PayloadTooLarge
from playground.api.ids import from_id, from_ids, to_id
from playground.api.selectors import agents_matching, agents_of, owned
from playground.api.serializers.agents import TagListQuery, agent_tool_fields
from playground.api.views.base import ApiView, body, listed, not_text, query

TAG = ["agents"]
MAX_AGENT_FILE = 50 * 1024 * 1024


def agent_out(owner, pk: int) -> dict:
    """The agent read again with everything its Letta shape needs."""
    return s.AgentOut(agents_of(owner).get(pk=pk)).data


class AgentList(ApiView):
    @extend_schema(tags=TAG, summary="List agents", parameters=[s.AgentListQuery], responses=s.AgentOut(many=True))
    def get(self, request: Request) -> Response:
        params = query(request, s.AgentListQuery)
        agents = agents_matching(request.user, name=params.get("name"), query_text=params.get("query_text"),
                                 tags=params.get("tags"), match_all_tags=params["match_all_tags"],
                                 last_stop_reason=params.get("last_stop_reason"))
        return Response(s.AgentOut(listed(agents, params, "agent", newest_first=True), many=True).data)

    @extend_schema(tags=TAG, summary="Create an agent", request=s.AgentCreate, responses={201: s.AgentOut})
    def post(self, request: Request) -> Response:
        data = body(request, s.AgentCreate)
        blocks = owned(Block, request.user, from_ids("block", data.get("block_ids")))
        folders = owned(Source, request.user, from_ids("source", data["folder_ids"]))
        with transaction.atomic():
            agent = agent_create_with_folders(owner=request.user, folders=folders, block_ids=[b.pk for b in blocks],
                                              **data["settings"], **agent_tool_fields(request.user, data))
            if data.get("enable_sleeptime"):
                sleeptime_companion(agent=agent)
        return Response(agent_out(request.user, agent.pk), status=status.HTTP_201_CREATED)


class AgentDetail(ApiView):
    @extend_schema(tags=TAG, summary="Retrieve an agent", responses=s.AgentOut)
    def get(self, request: Request, agent_id: str) -> Response:
        return Response(agent_out(request.user, from_id("agent", agent_id)))

    @extend_schema(tags=TAG, summary="Update an agent", request=s.AgentUpdate, responses=s.AgentOut)
    def patch(self, request: Request, agent_id: str) -> Response:
        agent = agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id))
        data = body(request, s.AgentUpdate)
        block_ids = data.get("block_ids")
        agent_update(agent=agent, block_ids=None if block_ids is None else from_ids("block", block_ids),
                     **{**data["settings"], **agent_tool_fields(request.user, data, agent=agent)})
        return Response(agent_out(request.user, agent.pk))

    @extend_schema(tags=TAG, summary="Delete an agent (and the blocks no other agent uses)", responses=s.DeletedOut)
    def delete(self, request: Request, agent_id: str) -> Response:
        agent_delete(agent=agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id)))
        return Response({"message": f"Agent {agent_id} deleted."})


class AgentContext(ApiView):
    @extend_schema(tags=TAG, summary="The context window of the agent's next request, with exact tokens per tier",
                   responses=s.ContextOut)
    def get(self, request: Request, agent_id: str) -> Response:
        agent = agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id))
        context = agent_context(agent=agent)
        return Response(letta.context_window_overview(context, archival=context.archival_count,
                                                      recall=context.recall_count))


class AgentRecompile(ApiView):
    @extend_schema(tags=TAG, summary="The system prompt the agent's next request sends",
                   parameters=[OpenApiParameter("dry_run", bool), OpenApiParameter("update_timestamp", bool)],
                   request=None, responses={200: str})
    def post(self, request: Request, agent_id: str) -> Response:
        agent = agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id))
        # nothing to persist: the system prompt is compiled afresh for every request
        return Response(agent_context(agent=agent).messages[0]["content"])


class AgentExport(ApiView):
    @extend_schema(tags=TAG, summary="Export the agent as an agent file (JSON)", parameters=[s.ExportQuery],
                   responses={200: {"type": "object"}})
    def get(self, request: Request, agent_id: str) -> HttpResponse:
        params = query(request, s.ExportQuery)
        agent = agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id))
        file = agent_file_export(agent=agent, include_passages=params["include_passages"])
        if params["scrub_messages"]:
            file["agents"][0]["messages"], file["agents"][0]["in_context_message_ids"] = [], []
        response = HttpResponse(json.dumps(file, indent=2, ensure_ascii=False), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="{to_id("agent", agent.pk)}.af"'
        return response


class AgentImport(ApiView):
    parser_classes = [MultiPartParser, FormParser]
    accepts_uploads = True  # its body may be as large as a document (playground.middleware)

    @extend_schema(tags=TAG, summary="Import agents from an agent file", request={"multipart/form-data": s.ImportForm},
                   responses=s.ImportOut)
    def post(self, request: Request) -> Response:
        if int(request.META.get("CONTENT_LENGTH") or 0) > MAX_AGENT_FILE:
            raise PayloadTooLarge(f"An agent file may have {MAX_AGENT_FILE // (1024 * 1024)} MB at most.")
        form = body(request, s.ImportForm)
        try:
            data = json.loads(form["file"].read())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise serializers.ValidationError({"file": [f"Not a JSON agent file: {error}"]}) from None
        if (where := not_text(data)) is not None:  # as TextJSONParser refuses in a request body
            raise serializers.ValidationError({"file": [f"{where or 'The file'} holds a NUL character or a lone "
                                                        "surrogate, which text cannot hold."]})
        name = form.get("name") or form.get("override_name")
        parsed = agent_file_read(data, name=name, strip_messages=form["strip_messages"],
                                 model=form.get("model") or form.get("override_model_handle"),
                                 embedding=form.get("embedding") or form.get("override_embedding_handle"))
        if form["append_copy_suffix"]:
            for spec in parsed["agents"]:
                spec["name"] = f"{spec['name']}_copy"[:200]
        agents = agent_file_import(owner=request.user, **parsed)
        return Response({"agent_ids": [to_id("agent", a.pk) for a in agents]})


class TagList(ApiView):
    @extend_schema(tags=TAG, summary="The tags of your agents, alphabetically", parameters=[TagListQuery],
                   responses={200: {"type": "array", "items": {"type": "string"}}})
    def get(self, request: Request) -> Response:
        params = query(request, TagListQuery)
        tags = agent_tags(owner=request.user, name=params.get("name") or params.get("query_text") or "")
        descending = params["order"] == "desc"
        if descending:
            tags.reverse()
        if params.get("after"):  # the tags past the cursor, in the order asked for
            tags = [t for t in tags if (t < params["after"] if descending else t > params["after"])]
        if params.get("before"):
            tags = [t for t in tags if (t > params["before"] if descending else t < params["before"])]
        return Response(tags[:params["limit"]])
