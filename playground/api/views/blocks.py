"""Core memory blocks: standalone (/v1/blocks) and an agent's (/v1/agents/{id}/core-memory/blocks)."""

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from agents.selectors import agent_for_owner
from agents.services import block_attach, block_delete, block_detach, block_edit
from memory.selectors import agent_blocks
from memory.services import block_create
from playground.api import serializers as s
from playground.api.ids import from_id
from playground.api.selectors import agent_block, agents_of, block_get, blocks_matching
from playground.api.views.agents import agent_out
from playground.api.views.base import ApiView, body, listed, listed_in_order, query

TAG = ["blocks"]


class BlockList(ApiView):
    @extend_schema(tags=TAG, summary="List blocks", parameters=[s.BlockListQuery], responses=s.BlockOut(many=True))
    def get(self, request: Request) -> Response:
        params = query(request, s.BlockListQuery)
        blocks = blocks_matching(request.user, label=params.get("label"), label_search=params.get("label_search"),
                                 value_search=params.get("value_search"),
                                 description_search=params.get("description_search"),
                                 agents_more_than=params.get("connected_to_agents_count_gt"),
                                 agents_fewer_than=params.get("connected_to_agents_count_lt"),
                                 agents_exactly=params.get("connected_to_agents_count_eq"))
        return Response(s.BlockOut(listed(blocks, params, "block"), many=True).data)

    @extend_schema(tags=TAG, summary="Create a block", request=s.BlockCreate, responses={201: s.BlockOut})
    def post(self, request: Request) -> Response:
        block = block_create(owner=request.user, **body(request, s.BlockCreate))
        return Response(s.BlockOut(block).data, status=status.HTTP_201_CREATED)


class BlockDetail(ApiView):
    @extend_schema(tags=TAG, summary="Retrieve a block", responses=s.BlockOut)
    def get(self, request: Request, block_id: str) -> Response:
        return Response(s.BlockOut(block_get(request.user, from_id("block", block_id))).data)

    @extend_schema(tags=TAG, summary="Update a block (kept as a revision)", request=s.BlockUpdate, responses=s.BlockOut)
    def patch(self, request: Request, block_id: str) -> Response:
        block = block_get(request.user, from_id("block", block_id))
        block = block_edit(block_id=block.pk, user=request.user, fields=body(request, s.BlockUpdate))
        return Response(s.BlockOut(block).data)

    @extend_schema(tags=TAG, summary="Delete a block (detaching it from its agents)", responses=s.DeletedOut)
    def delete(self, request: Request, block_id: str) -> Response:
        block_delete(block=block_get(request.user, from_id("block", block_id)))
        return Response({"message": f"Block {block_id} deleted."})


class BlockAgents(ApiView):
    @extend_schema(tags=TAG, summary="The agents a block is attached to", parameters=[s.ListQuery],
                   responses=s.AgentOut(many=True))
    def get(self, request: Request, block_id: str) -> Response:
        block = block_get(request.user, from_id("block", block_id))
        params = query(request, s.ListQuery)
        agents = agents_of(request.user).filter(blockattachment__block=block)
        return Response(s.AgentOut(listed(agents, params, "agent"), many=True).data)


class AgentBlocks(ApiView):
    @extend_schema(tags=TAG, summary="An agent's core memory blocks, in prompt order", parameters=[s.ListQuery],
                   responses=s.BlockOut(many=True))
    def get(self, request: Request, agent_id: str) -> Response:
        agent = agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id))
        blocks = listed_in_order(agent_blocks(agent_id=agent.pk), query(request, s.ListQuery), "block")
        return Response(s.BlockOut(blocks, many=True).data)


class AgentBlock(ApiView):
    @extend_schema(tags=TAG, summary="An agent's block by label", responses=s.BlockOut)
    def get(self, request: Request, agent_id: str, block_label: str) -> Response:
        agent = agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id))
        return Response(s.BlockOut(agent_block(agent, block_label)).data)

    @extend_schema(tags=TAG, summary="Update an agent's block by label (kept as a revision)", request=s.BlockUpdate,
                   responses=s.BlockOut)
    def patch(self, request: Request, agent_id: str, block_label: str) -> Response:
        block = agent_block(agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id)), block_label)
        block = block_edit(block_id=block.pk, user=request.user, fields=body(request, s.BlockUpdate))
        return Response(s.BlockOut(block).data)


class AgentBlockAttach(ApiView):
    @extend_schema(tags=TAG, summary="Attach a block to an agent", request=None, responses=s.AgentOut)
    def patch(self, request: Request, agent_id: str, block_id: str) -> Response:
        agent = agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id))
        block_attach(block=block_get(request.user, from_id("block", block_id)), agent=agent)
        return Response(agent_out(request.user, agent.pk))


class AgentBlockDetach(ApiView):
    @extend_schema(tags=TAG, summary="Detach a block from an agent (the block stays)", request=None, responses=s.AgentOut)
    def patch(self, request: Request, agent_id: str, block_id: str) -> Response:
        agent = agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id))
        block_detach(block=block_get(request.user, from_id("block", block_id)), agent=agent)
        return Response(agent_out(request.user, agent.pk))
