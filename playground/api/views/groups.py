"""Groups of agents (agents/groups.py), in Letta's routes: create, list, retrieve, modify, delete;
send a message and get every agent's answer; list the group's messages; reset its agents'."""

import asyncio
import json
import time

from asgiref.sync import sync_to_async
from django.db import connection
from django.http import StreamingHttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from agents.groups import group_create, group_delete, group_members, group_send, group_update, turn_finished, turn_runs
from agents.models import Agent, Group, GroupTurn
from agents.services import messages_reset
from memory.models import Block, Message
from playground.api import letta
from playground.api import serializers as s
from playground.api.ids import from_id, from_ids, to_id
from playground.api.selectors import owned
from playground.api.turns import turn_messages, wait_seconds
from playground.api.views.base import ApiView, body, listed, listed_messages, query
from playground.api.views.messages import _options

TAG = ["groups"]
POLL_SECONDS = 0.1


def _group(request: Request, group_id: str) -> Group:
    return Group.objects.get(owner=request.user, pk=from_id("group", group_id))


def _agents(request: Request, ids: list[str]) -> list[Agent]:
    return owned(Agent, request.user, from_ids("agent", ids))


# Letta's manager_config fields -> group_create's and group_update's
CONFIG_FIELDS = {"max_turns": "max_turns", "sleeptime_agent_frequency": "sleeptime_frequency",
                 "sleeptime_quiet_seconds": "sleeptime_quiet_seconds"}


def _manager_fields(request: Request, config: dict) -> dict:
    """The fields a manager_config gives, in our names (the manager agent as `manager`)."""
    fields = {ours: config[theirs] for theirs, ours in CONFIG_FIELDS.items() if theirs in config}
    if config.get("manager_agent_id"):
        fields["manager"] = _agents(request, [config["manager_agent_id"]])[0]
    return fields


class GroupList(ApiView):
    @extend_schema(tags=TAG, summary="List your groups", parameters=[s.GroupListQuery], responses=s.GroupOut(many=True))
    def get(self, request: Request) -> Response:
        params = query(request, s.GroupListQuery)
        groups = Group.objects.filter(owner=request.user)
        if params.get("manager_type"):
            groups = groups.filter(kind=params["manager_type"])
        return Response([letta.group(g) for g in listed(groups, params, "group")])

    @extend_schema(tags=TAG, summary="Create a group of your agents", request=s.GroupCreate, responses={201: s.GroupOut})
    def post(self, request: Request) -> Response:
        data = body(request, s.GroupCreate)
        config = data["manager_config"]
        group = group_create(owner=request.user, kind=config["manager_type"], description=data["description"],
                             members=_agents(request, data["agent_ids"]),
                             shared_blocks=owned(Block, request.user, from_ids("block", data.get("shared_block_ids"))),
                             **_manager_fields(request, config))
        return Response(letta.group(group), status=status.HTTP_201_CREATED)


class GroupDetail(ApiView):
    @extend_schema(tags=TAG, summary="Retrieve a group", responses=s.GroupOut)
    def get(self, request: Request, group_id: str) -> Response:
        return Response(letta.group(_group(request, group_id)))

    @extend_schema(tags=TAG, summary="Modify a group", request=s.GroupUpdate, responses=s.GroupOut)
    def patch(self, request: Request, group_id: str) -> Response:
        group = _group(request, group_id)
        data = body(request, s.GroupUpdate)
        config = data.get("manager_config") or {}
        if config.get("manager_type", group.kind) != group.kind:
            raise ValueError(f"a group keeps its manager type ({group.kind}); create another group for another one")
        changes = _manager_fields(request, config)
        if "description" in data:
            changes["description"] = data["description"]
        members = _agents(request, data["agent_ids"]) if data.get("agent_ids") is not None else None
        return Response(letta.group(group_update(group=group, members=members, **changes)))

    @extend_schema(tags=TAG, summary="Delete a group (its agents stay)", responses={200: None})
    def delete(self, request: Request, group_id: str) -> Response:
        group_delete(group=_group(request, group_id))
        return Response(None)


def group_response(turn: GroupTurn, options: dict) -> dict:
    """Every agent's answer to a person's message to a group, in order, each message with its agent as `sender_id`."""
    messages, steps, runs = [], [], turn_runs(turn)
    for run in runs:
        messages += [{**message, "sender_id": to_id("agent", run.agent_id)} for message in turn_messages(run, options)]
        steps += list(run.steps.defer("request", "response").order_by("index"))
    usage = {**letta.usage(runs[0], steps), "run_ids": [to_id("run", run.pk) for run in runs]}
    errors = [f"{run.agent.name}: {run.error}" for run in runs if run.error]
    return {"messages": messages, "stop_reason": letta.stop_reason("error" if errors else "end_turn"), "usage": usage,
            **({"error": "; ".join(errors)} if errors else {})}


class GroupMessages(ApiView):
    @extend_schema(tags=TAG, summary="The messages of the group's agents in its conversations", parameters=[s.ListQuery],
                   responses=s.MessageOut(many=True))
    def get(self, request: Request, group_id: str) -> Response:
        group = _group(request, group_id)
        return Response(listed_messages(Message.objects.filter(run__group_turn__group=group), query(request, s.ListQuery),
                                        letta.from_message))

    @extend_schema(tags=TAG, summary="Send a message to the group and get every agent's answer", request=s.MessageSend,
                   responses=s.LettaResponseOut)
    def post(self, request: Request, group_id: str):
        group = _group(request, group_id)
        data = body(request, s.MessageSend)
        turn = group_send(group=group, text=data["text"])
        members = group_members(group)
        timeout = max(wait_seconds(a) for a in [*members, *([group.manager] if group.manager else [])])
        timeout *= max(group.max_turns or 1, len(members))
        options = _options(data)

        async def answer():
            deadline = time.monotonic() + timeout
            while not await sync_to_async(_finished)(turn.pk):
                if time.monotonic() > deadline:
                    yield (f'{{"detail": "The group is still answering; GET /v1/groups/{to_id("group", group.pk)}'
                           f'/messages lists what it said.", "code": "gateway_timeout"}}').encode()
                    return
                await asyncio.sleep(POLL_SECONDS)
            yield json.dumps(await sync_to_async(_answer)(turn.pk, options), ensure_ascii=False).encode()

        connection.close()  # back to the pool while the group answers
        return StreamingHttpResponse(answer(), content_type="application/json")


def _finished(turn_pk: int) -> bool:
    return turn_finished(GroupTurn.objects.select_related("group").get(pk=turn_pk))


def _answer(turn_pk: int, options: dict) -> dict:
    return group_response(GroupTurn.objects.get(pk=turn_pk), options)


class GroupReset(ApiView):
    @extend_schema(tags=TAG, summary="Empty the context windows of the group's agents (memory is kept)", responses={200: None})
    def patch(self, request: Request, group_id: str) -> Response:
        group = _group(request, group_id)
        for agent in [*group_members(group), *([group.manager] if group.manager else [])]:
            messages_reset(agent=agent)
        return Response(None)

    post = patch
