"""What every /v1 view shares: JSON in and out, and reading validated input."""

from typing import Any, Callable

from django.conf import settings
from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.exceptions import NotFound, ParseError
from rest_framework.parsers import JSONParser
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.views import APIView

from playground.api.errors import PayloadTooLarge
from playground.api.ids import from_id
from playground.api.selectors import page

DEFAULT_LIMIT = 50


class AlwaysJson(DefaultContentNegotiation):
    """JSON whatever the Accept header asks for: a browser's text/html, or the text/event-stream of
    an SSE client (the streams are written by their views; their errors are JSON too)."""

    def select_renderer(self, request: Request, renderers: list, format_suffix: str | None = None) -> tuple:
        return renderers[0], renderers[0].media_type


class TextJSONParser(JSONParser):
    """JSON whose every string is text PostgreSQL can store. A NUL character, or a lone surrogate
    ("\\ud800" is valid JSON but no Unicode text), anywhere in the body is refused with 400, not
    cleaned away: the caller would not get back what it sent. (Query strings and forms are decoded
    by Django, which replaces invalid bytes; their CharFields refuse NUL characters.)"""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        data = super().parse(stream, media_type, parser_context)
        if (where := not_text(data)) is not None:
            raise ParseError(f"JSON parse error - {where or 'the body'} holds a NUL character or a lone surrogate, "
                             "which text cannot hold.")
        return data


def not_text(data: Any) -> str | None:
    """Where in `data` a string (or a key) holds a NUL or a lone surrogate: "messages.0.content", or None."""
    stack = [("", data)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if not _storable(key):
                    return where or "a key"
                stack.append((f"{where}.{key}" if where else key, item))
        elif isinstance(value, list):
            stack.extend((f"{where}.{index}" if where else str(index), item) for index, item in enumerate(value))
        elif isinstance(value, str) and not _storable(value):
            return where
    return None


def _storable(text: str) -> bool:
    try:
        text.encode("utf-8")  # fails on a lone surrogate
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


class ApiView(APIView):
    renderer_classes = [JSONRenderer]
    parser_classes = [TextJSONParser]
    content_negotiation_class = AlwaysJson

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # DRF parses JSON straight from the stream, past Django's DATA_UPLOAD_MAX_MEMORY_SIZE check
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE and not request.content_type.startswith("multipart/"):
            raise PayloadTooLarge(f"The request body has {length} bytes; the limit is "
                                  f"{settings.DATA_UPLOAD_MAX_MEMORY_SIZE} (DATA_UPLOAD_MAX_MEMORY_SIZE).")
        super().initial(request, *args, **kwargs)


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


def _ascending(params: dict, newest_first: bool) -> bool:
    if params.get("order"):
        return params["order"] == "asc"
    if params.get("ascending") is not None:
        return params["ascending"]
    return not newest_first


def listed(queryset: QuerySet, params: dict, kind: str, *, newest_first: bool = False) -> list:
    """A page of `queryset` after the Letta list parameters: after/before (ids of `kind`), limit,
    order (asc/desc) or the older ascending flag."""
    return page(queryset, after=_cursor(kind, params.get("after"), "after"),
                before=_cursor(kind, params.get("before"), "before"),
                limit=params.get("limit") or DEFAULT_LIMIT, ascending=_ascending(params, newest_first))


def listed_in_order(rows: list, params: dict, kind: str) -> list:
    """A page of a short list kept in its own order (not by id), after the same parameters: the
    rows that follow `after`, or that precede `before`, in that order; none for a cursor not in it."""
    if not _ascending(params, newest_first=False):
        rows = rows[::-1]
    for name, keep in (("after", lambda at: rows[at + 1:]), ("before", lambda at: rows[:at])):
        if (cursor := _cursor(kind, params.get(name), name)) is not None:
            ids = [row.pk for row in rows]
            rows = keep(ids.index(cursor)) if cursor in ids else []
    return rows[:params.get("limit") or DEFAULT_LIMIT]


def listed_messages(queryset: QuerySet, params: dict, convert: Callable[[Any], list[dict]], *,
                    newest_first: bool = False) -> list[dict]:
    """A page of Letta messages. One stored message becomes several Letta messages sharing its id
    (or none), and a cursor names a stored message, so a page ends between stored messages: it
    holds at most `limit` Letta messages, unless a single stored message alone has more."""
    limit = params.get("limit") or DEFAULT_LIMIT
    ascending = _ascending(params, newest_first)
    after, before = _cursor("message", params.get("after"), "after"), _cursor("message", params.get("before"), "before")
    backward = before is not None and after is None  # the messages nearest before the cursor
    groups: list[list[dict]] = []
    count = 0
    while count < limit:
        rows = page(queryset, after=after, before=before, limit=limit, ascending=ascending)
        if not rows:
            break
        for row in reversed(rows) if backward else rows:
            items = convert(row)
            if items and count and count + len(items) > limit:
                rows = []
                break
            groups.append(items if ascending else items[::-1])
            count += len(items)
        if not rows:
            break
        if backward:
            before = rows[0].pk
        else:
            after = rows[-1].pk
    if backward:
        groups.reverse()
    return [item for group in groups for item in group]
