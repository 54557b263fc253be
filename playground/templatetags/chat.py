"""Filters for showing agent events."""

import hashlib
import json

from django import template

register = template.Library()


@register.filter
def call_dom_id(call_id: str) -> str:
    """An HTML id for a tool call whose id came from the model's server (any characters)."""
    return "call-" + hashlib.sha1(str(call_id).encode()).hexdigest()[:12]


@register.filter
def pretty_json(raw: str) -> str:
    try:
        return json.dumps(json.loads(raw), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError, TypeError):
        return raw  # malformed arguments are shown as the model sent them


@register.filter
def get_item(mapping: dict, key: str):
    return mapping.get(key) if isinstance(mapping, dict) else None
