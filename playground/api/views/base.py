"""What every /v1 view shares: JSON in and out, and reading validated input."""

from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from playground.api.ids import from_id
from playground.api.selectors import page

DEFAULT_LIMIT = 50


class EventStreamRenderer(JSONRenderer):
    """Lets a client that accepts only text/event-stream reach the streaming routes (the stream
    itself is written by the view); errors still go out as JSON."""

    media_type = "text/event-stream"
    format = "sse"


class ApiView(APIView):
    renderer_classes = [JSONRenderer]
    parser_classes = [JSONParser]


def valid(serializer_class: type[serializers.Serializer], data: Any) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def query(request: Request, serializer_class: type[serializers.Serializer]) -> dict:
    return valid(serializer_class, request.query_params)


def body(request: Request, serializer_class: type[serializers.Serializer]) -> dict:
    return valid(serializer_class, request.data)


def _cursor(kind: str, value: str | None, name: str) -> int | None:
    if not value:
        return None
    try:
        return from_id(kind, value)
    except NotFound:
        raise serializers.ValidationError({name: [f"Not an id of this list: {value[:60]!r}."]}) from None


def listed(queryset: QuerySet, params: dict, kind: str, *, newest_first: bool = False) -> list:
    """A page of `queryset` after the Letta list parameters: after/before (ids of `kind`), limit,
    order (asc/desc) or the older ascending flag."""
    if params.get("order"):
        ascending = params["order"] == "asc"
    elif params.get("ascending") is not None:
        ascending = params["ascending"]
    else:
        ascending = not newest_first
    return page(queryset, after=_cursor(kind, params.get("after"), "after"),
                before=_cursor(kind, params.get("before"), "before"),
                limit=params.get("limit") or DEFAULT_LIMIT, ascending=ascending)
