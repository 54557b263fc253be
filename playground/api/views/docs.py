"""A readable page of the API, rendered on the server from the OpenAPI schema: drf-spectacular's
Swagger and Redoc pages load their scripts from a CDN, and the playground may run offline."""

from functools import lru_cache
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.html import escape
from django.views.decorators.http import require_GET
from drf_spectacular.generators import SchemaGenerator

STYLE = """
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h2{margin-top:2.5rem;border-bottom:1px solid #ddd;text-transform:capitalize}
details{border:1px solid #e3e3e3;border-radius:6px;margin:.4rem 0;padding:.3rem .7rem}
summary{cursor:pointer}
code{background:#f4f4f4;padding:0 .25rem;border-radius:3px}
.m{display:inline-block;width:4.2rem;font-weight:600;font-family:monospace}
.get{color:#0a6}.post{color:#06c}.patch{color:#a60}.delete{color:#c22}
table{border-collapse:collapse;margin:.3rem 0 .6rem}td,th{padding:.15rem .6rem;text-align:left;vertical-align:top}
th{font-weight:600;border-bottom:1px solid #ddd}.muted{color:#777}
"""


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    return SchemaGenerator().get_schema(request=None, public=True)


def _type(schema: dict[str, Any], components: dict[str, Any]) -> str:
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    if schema.get("type") == "array":
        return f"list of {_type(schema.get('items', {}), components)}"
    if "enum" in schema:
        return " | ".join(str(v) for v in schema["enum"] if v is not None)
    for key in ("oneOf", "allOf", "anyOf"):
        if key in schema:
            return " | ".join(_type(s, components) for s in schema[key])
    return schema.get("format") or schema.get("type") or "any"


def _fields(schema: dict[str, Any], components: dict[str, Any]) -> str:
    if "$ref" in schema:
        schema = components.get(schema["$ref"].rsplit("/", 1)[-1], {})
    properties = schema.get("properties") or {}
    if not properties:
        return f"<code>{escape(_type(schema, components))}</code>"
    required = set(schema.get("required") or [])
    rows = "".join(
        f"<tr><td><code>{escape(name)}</code>{'' if name in required else ' <span class=muted>optional</span>'}</td>"
        f"<td>{escape(_type(prop, components))}</td><td>{escape(prop.get('description', ''))}</td></tr>"
        for name, prop in properties.items())
    return f"<table><tr><th>field</th><th>type</th><th></th></tr>{rows}</table>"


def _operation(method: str, path: str, op: dict[str, Any], components: dict[str, Any]) -> str:
    parts = [f"<details><summary><span class='m {method}'>{method.upper()}</span> <code>{escape(path)}</code> "
             f"&nbsp;{escape(op.get('summary', ''))}</summary>"]
    params = op.get("parameters") or []
    if params:
        rows = "".join(f"<tr><td><code>{escape(p['name'])}</code></td><td>{escape(p['in'])}</td>"
                       f"<td>{escape(_type(p.get('schema', {}), components))}</td>"
                       f"<td>{escape(p.get('description', ''))}</td></tr>" for p in params)
        parts.append(f"<p>Parameters</p><table><tr><th>name</th><th>in</th><th>type</th><th></th></tr>{rows}</table>")
    for media, content in (op.get("requestBody") or {}).get("content", {}).items():
        if media in ("application/json", "multipart/form-data"):
            parts.append(f"<p>Body ({escape(media)})</p>{_fields(content.get('schema', {}), components)}")
            break
    for code, response in (op.get("responses") or {}).items():
        content = (response.get("content") or {}).get("application/json")
        shape = _fields(content["schema"], components) if content and "schema" in content else ""
        parts.append(f"<p>Response {escape(code)} {escape(response.get('description', ''))}</p>{shape}")
    parts.append("</details>")
    return "".join(parts)


@require_GET
def api_docs(request: HttpRequest) -> HttpResponse:
    schema = _schema()
    components = schema.get("components", {}).get("schemas", {})
    by_tag: dict[str, list[str]] = {}
    for path, operations in schema.get("paths", {}).items():
        for method, op in operations.items():
            tag = (op.get("tags") or ["other"])[0]
            by_tag.setdefault(tag, []).append(_operation(method, path, op, components))
    sections = "".join(f"<h2>{escape(tag)}</h2>{''.join(ops)}" for tag, ops in by_tag.items())
    page = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>MemGPT Playground API</title>
<style>{STYLE}</style></head><body>
<h1>MemGPT Playground API <span class="muted">v1</span></h1>
<p>Compatible with the Letta v1 API for the parts the playground has: point the official
<code>letta-client</code> SDK at this server (<code>Letta(base_url="{escape(request.build_absolute_uri('/'))[:-1]}",
api_key="&lt;token&gt;")</code>). Send <code>Authorization: Bearer &lt;token&gt;</code>; make a token in your
settings page, the admin, or with <code>python manage.py create_token USERNAME</code>. Ids look like
<code>agent-12</code>. Errors are JSON: <code>{{"detail": "...", "code": "..."}}</code>.
The machine-readable schema is at <a href="openapi.json">/v1/openapi.json</a>.</p>
{sections}</body></html>"""
    return HttpResponse(page)
