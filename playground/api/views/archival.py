"""Archival memory: an agent's passages (/v1/agents/{id}/archival-memory) and search over passages."""

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from agents.selectors import agent_for_owner
from memory.models import Passage
from memory.search import PassageScope
from memory.selectors import passage_list
from memory.services import passage_delete, passage_insert
from playground.api import serializers as s
from playground.api.errors import Conflict
from playground.api.ids import from_id, to_id
from playground.api.selectors import passages_search
from playground.api.views.base import ApiView, body, listed, query

TAG = ["archival memory"]


class AgentArchival(ApiView):
    @extend_schema(tags=TAG, summary="List the agent's archival memory (with the passages of its folders)",
                   parameters=[s.PassageListQuery], responses=s.PassageOut(many=True))
    def get(self, request: Request, agent_id: str) -> Response:
        agent = agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id))
        params = query(request, s.PassageListQuery)
        passages = passage_list(scope=PassageScope(agent_id=agent.pk))
        if params.get("search"):
            passages = passages.filter(text__icontains=params["search"])
        return Response(s.PassageOut(listed(passages, params, "passage"), many=True).data)

    @extend_schema(tags=TAG, summary="Insert a passage into archival memory", request=s.PassageCreate,
                   responses=s.PassageOut(many=True))
    def post(self, request: Request, agent_id: str) -> Response:
        agent = agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id))
        data = body(request, s.PassageCreate)
        passage = passage_insert(owner_id=request.user.pk, agent_id=agent.pk, text=data["text"],
                                 embedding_model=agent.embedding_model, tags=data.get("tags"))
        return Response(s.PassageOut([passage], many=True).data)


class AgentArchivalItem(ApiView):
    @extend_schema(tags=TAG, summary="Delete a passage of the agent's own archival memory", responses=s.DeletedOut)
    def delete(self, request: Request, agent_id: str, memory_id: str) -> Response:
        agent = agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id))
        passage = passage_list(scope=PassageScope(agent_id=agent.pk)).get(pk=from_id("passage", memory_id))
        if passage.agent_id != agent.pk:
            raise Conflict(f"{memory_id} comes from the file {passage.document.filename!r} of a folder: delete the file "
                           "or detach the folder instead.")
        passage_delete(passage=passage)
        return Response({"message": f"Passage {memory_id} deleted."})


class AgentArchivalSearch(ApiView):
    @extend_schema(tags=TAG, summary="Search the agent's archival memory by words and meaning",
                   parameters=[s.ArchivalSearchQuery], responses=s.ArchivalSearchOut)
    def get(self, request: Request, agent_id: str) -> Response:
        agent = agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id))
        params = query(request, s.ArchivalSearchQuery)
        hits = passages_search(request.user, agent=agent, query=params["query"], tags=params.get("tags"),
                               match_all_tags=params["tag_match_mode"] == "all", start=params.get("start_datetime"),
                               end=params.get("end_datetime"), limit=params.get("top_k") or 10)
        results = [{"id": to_id("passage", p.pk), "content": p.text, "timestamp": p.created_at.isoformat(),
                    "tags": p.tags} for p, _ in hits]
        return Response({"count": len(results), "results": results})


class PassageSearch(ApiView):
    @extend_schema(tags=TAG, summary="Search passages: one agent's archival memory, or all of yours",
                   request=s.PassageSearch, responses=s.PassageHitOut(many=True))
    def post(self, request: Request) -> Response:
        data = body(request, s.PassageSearch)
        if data.get("archive_id"):
            raise Passage.DoesNotExist  # no archives here: an agent's archival memory is reached by agent_id
        agent = agent_for_owner(owner=request.user, agent_id=from_id("agent", data["agent_id"])) if data.get("agent_id") else None
        hits = passages_search(request.user, agent=agent, query=data.get("query") or "", mode=data["search_mode"],
                               tags=data.get("tags"), match_all_tags=data["tag_match_mode"] == "all",
                               start=data.get("start_date"), end=data.get("end_date"), limit=data["limit"])
        return Response([{"passage": s.PassageOut(p).data, "score": score, "metadata": {}} for p, score in hits])
