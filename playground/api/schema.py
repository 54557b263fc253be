"""OpenAPI schema hooks (drf-spectacular)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


def letta_paths_only(endpoints: list, **kwargs) -> list:
    """Keep each /v1 route once, spelled as the Letta SDK spells it (see playground.api.urls)."""
    from playground.api.urls import SCHEMA_PATHS

    return [e for e in endpoints if not e[0].startswith("/v1/") or e[0] in SCHEMA_PATHS]


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = "playground.api.authentication.BearerTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "A token from your settings page, the admin, or `manage.py create_token USER`."}
