"""/v1/agents: create, list, retrieve, update, delete; context window; export and import."""

import json
import secrets

from django.db import transaction
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from agents.selectors import agent_context, agent_file_export
from agents.services import agent_create, agent_delete, agent_file_import, agent_update
from memory.models import Block, Source
from memory.selectors import archival_count, recall_count
from memory.services import source_attach
from playground.api import serializers as s
from playground.api.agent_file import agent_file_read
from playground.api.errors import PayloadTooLarge
from playground.api.ids import from_id, from_ids, to_id
from playground.api.selectors import agent_get, agents_of
from playground.api.views.base import ApiView, body, listed, query

TAG = ["agents"]
MAX_AGENT_FILE = 50 * 1024 * 1024


def agent_out(owner, pk: int) -> dict:
    """The agent read again with everything its Letta shape needs."""
    return s.AgentOut(agents_of(owner).get(pk=pk)).data


class AgentList(ApiView):
    @extend_schema(tags=TAG, summary="List agents", parameters=[s.AgentListQuery], responses=s.AgentOut(many=True))
    def get(self, request: Request) -> Response:
        params = query(request, s.AgentListQuery)
        agents = agents_of(request.user)
        if params.get("name"):
            agents = agents.filter(name=params["name"])
        if params.get("query_text"):
            agents = agents.filter(name__icontains=params["query_text"])
        if params.get("tags"):
            agents = agents.filter(tags__contains=params["tags"]) if params["match_all_tags"] else agents.filter(
                tags__overlap=params["tags"])
        if params.get("last_stop_reason"):
            agents = agents.filter(last_stop_reason=params["last_stop_reason"])
        return Response(s.AgentOut(listed(agents, params, "agent", newest_first=True), many=True).data)

    @extend_schema(tags=TAG, summary="Create an agent", request=s.AgentCreate, responses={201: s.AgentOut})
    def post(self, request: Request) -> Response:
        fields = s.AgentCreate(data=request.data)
        fields.is_valid(raise_exception=True)
        data, settings_, owner = fields.validated_data, dict(fields.settings), request.user
        block_ids = from_ids("block", data.get("block_ids"))
        if Block.objects.filter(owner=owner, pk__in=block_ids).count() != len(set(block_ids)):
            raise Block.DoesNotExist
        folder_ids = from_ids("source", (data.get("folder_ids") or []) + (data.get("source_ids") or []))
        folders = list(Source.objects.filter(owner=owner, pk__in=folder_ids))
        if len(folders) != len(set(folder_ids)):
            raise Source.DoesNotExist
        memory_blocks = data.get("memory_blocks")
        # no blocks named at all: the default persona and human blocks
        blocks = None if memory_blocks is None and not block_ids else [dict(b) for b in memory_blocks or []]
        with transaction.atomic():
            agent = agent_create(
                owner=owner, name=settings_.pop("name", None) or f"agent-{secrets.token_hex(3)}", blocks=blocks,
                block_ids=block_ids, embedding_model=settings_.pop("embedding_model", None),
                context_window=settings_.pop("context_window", None), **settings_)
            for folder in folders:
                source_attach(source=folder, agent=agent)
        return Response(agent_out(owner, agent.pk), status=status.HTTP_201_CREATED)


class AgentDetail(ApiView):
    @extend_schema(tags=TAG, summary="Retrieve an agent", responses=s.AgentOut)
    def get(self, request: Request, agent_id: str) -> Response:
        return Response(agent_out(request.user, from_id("agent", agent_id)))

    @extend_schema(tags=TAG, summary="Update an agent", request=s.AgentUpdate, responses=s.AgentOut)
    def patch(self, request: Request, agent_id: str) -> Response:
        agent = agent_get(request.user, from_id("agent", agent_id))
        fields = s.AgentUpdate(data=request.data)
        fields.is_valid(raise_exception=True)
        block_ids = fields.validated_data.get("block_ids")
        agent_update(agent=agent, block_ids=None if block_ids is None else from_ids("block", block_ids), **fields.settings)
        return Response(agent_out(request.user, agent.pk))

    @extend_schema(tags=TAG, summary="Delete an agent (and the blocks no other agent uses)", responses=s.DeletedOut)
    def delete(self, request: Request, agent_id: str) -> Response:
        agent_delete(agent=agent_get(request.user, from_id("agent", agent_id)))
        return Response({"message": f"Agent {agent_id} deleted."})


class AgentContext(ApiView):
    @extend_schema(tags=TAG, summary="The context window of the agent's next request, with exact tokens per tier",
                   responses=s.ContextOut)
    def get(self, request: Request, agent_id: str) -> Response:
        agent = agent_get(request.user, from_id("agent", agent_id))
        context = agent_context(agent=agent)
        tokens, sections = context.tokens, context.sections
        history = context.messages[1:]
        summary = sections["summary"] or None
        return Response({
            "context_window_size_max": tokens["context_window"],
            "context_window_size_current": tokens["prompt_total"],
            "num_messages": len(context.messages),
            "num_archival_memory": archival_count(agent_id=agent.pk),
            "num_recall_memory": recall_count(agent_id=agent.pk),
            "num_tokens_external_memory_summary": tokens["memory_metadata"],
            "external_memory_summary": sections["memory_metadata"],
            "num_tokens_system": tokens["system_instructions"],
            "system_prompt": sections["system_instructions"],
            "num_tokens_core_memory": tokens["core_memory"],
            "core_memory": sections["core_memory"],
            "num_tokens_summary_memory": tokens["summary"],
            "summary_memory": summary,
            "num_tokens_functions_definitions": tokens["tool_schemas"],
            "functions_definitions": context.tools,
            "num_tokens_messages": tokens["messages"],
            "messages": history[1:] if summary else history,
            "tokens": tokens,
        })


class AgentRecompile(ApiView):
    @extend_schema(tags=TAG, summary="The system prompt the agent's next request sends",
                   parameters=[OpenApiParameter("dry_run", bool), OpenApiParameter("update_timestamp", bool)],
                   request=None, responses={200: str})
    def post(self, request: Request, agent_id: str) -> Response:
        agent = agent_get(request.user, from_id("agent", agent_id))
        # nothing to persist: the system prompt is compiled afresh for every request
        return Response(agent_context(agent=agent).messages[0]["content"])


class AgentExport(ApiView):
    @extend_schema(tags=TAG, summary="Export the agent as an agent file (JSON)", parameters=[s.ExportQuery],
                   responses={200: {"type": "object"}})
    def get(self, request: Request, agent_id: str) -> HttpResponse:
        params = query(request, s.ExportQuery)
        agent = agent_get(request.user, from_id("agent", agent_id))
        file = agent_file_export(agent=agent, include_passages=params["include_passages"])
        if params["scrub_messages"]:
            file["agents"][0]["messages"], file["agents"][0]["in_context_message_ids"] = [], []
        response = HttpResponse(json.dumps(file, indent=2, ensure_ascii=False), content_type="application/json")
        response["Content-Disposition"] = f'attachment; filename="{to_id("agent", agent.pk)}.af"'
        return response


class AgentImport(ApiView):
    parser_classes = [MultiPartParser, FormParser]

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
        name = form.get("name") or form.get("override_name")
        parsed = agent_file_read(data, name=name, strip_messages=form["strip_messages"],
                                 model=form.get("model") or form.get("override_model_handle"),
                                 embedding=form.get("embedding") or form.get("override_embedding_handle"))
        if form["append_copy_suffix"]:
            for spec in parsed["agents"]:
                spec["name"] = f"{spec['name']}_copy"[:200]
        agents = agent_file_import(owner=request.user, **parsed)
        return Response({"agent_ids": [to_id("agent", a.pk) for a in agents]})
