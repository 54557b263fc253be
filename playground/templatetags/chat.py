"""Filters for showing agent events."""

import hashlib
import json
import re

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


@register.filter
def agent_pk(agent_id: str) -> int | None:
    """The key in an agent's id as the model and the API name it ("agent-12" -> 12); None for anything else."""
    match = re.fullmatch(r"agent-(\d{1,18})", str(agent_id))
    return int(match[1]) if match else None
