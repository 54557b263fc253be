"""/v1/providers: a person's model servers (Letta's "bring your own key" providers). Their models
are offered by /v1/models as "<name>/<model>". A key is accepted and stored encrypted, and never
returned; another person's server is not found (404)."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from agents.errors import ModelServerInvalid
from agents.selectors import model_server_of, model_servers_of
from agents.services import model_server_create, model_server_delete, model_server_update
from playground.api import letta
from playground.api.errors import Conflict
from playground.api.ids import from_id
from playground.api.serializers import providers as ps
from playground.api.serializers.common import DeletedOut
from playground.api.views.base import ApiView, body, listed, query

TAG = ["tools and models"]


def _refused(error: ModelServerInvalid) -> Exception:
    if error.taken:
        return Conflict(str(error), code="provider_name_taken")
    return serializers.ValidationError({field: [problem] for field, problem in error.errors.items()})


class ProviderList(ApiView):
    @extend_schema(tags=TAG, summary="List your model servers", parameters=[ps.ProviderListQuery],
                   responses=ps.ProviderOut(many=True))
    def get(self, request: Request) -> Response:
        params = query(request, ps.ProviderListQuery)
        servers = model_servers_of(owner=request.user)
        if params.get("name"):
            servers = servers.filter(name=params["name"])
        if params.get("provider_type"):
            servers = servers.filter(kind=params["provider_type"])
        if params.get("provider_category") and "byok" not in params["provider_category"]:
            servers = servers.none()  # "base" is the operator's server, not listed here
        return Response([letta.provider(row) for row in listed(servers, params, "provider")])

    @extend_schema(tags=TAG, summary="Add a model server (OpenAI, vLLM, Ollama, llama.cpp, any OpenAI-compatible)",
                   request=ps.ProviderCreate, responses={201: ps.ProviderOut})
    def post(self, request: Request) -> Response:
        fields = body(request, ps.ProviderCreate)
        try:
            row = model_server_create(owner=request.user, name=fields["name"], kind=fields["provider_type"],
                                      base_url=fields["base_url"], api_key=fields["api_key"])
        except ModelServerInvalid as error:
            raise _refused(error) from None
        return Response(letta.provider(row), status=status.HTTP_201_CREATED)


class ProviderDetail(ApiView):
    @extend_schema(tags=TAG, summary="One of your model servers", responses=ps.ProviderOut)
    def get(self, request: Request, provider_id: str) -> Response:
        return Response(letta.provider(model_server_of(owner=request.user, server_id=from_id("provider", provider_id))))

    @extend_schema(tags=TAG, summary="Change a model server's key, address or kind (its name stays)",
                   request=ps.ProviderUpdate, responses=ps.ProviderOut)
    def patch(self, request: Request, provider_id: str) -> Response:
        row = model_server_of(owner=request.user, server_id=from_id("provider", provider_id))
        fields = body(request, ps.ProviderUpdate)
        try:
            row = model_server_update(server=row, kind=fields.get("provider_type"), base_url=fields.get("base_url"),
                                      api_key=fields.get("api_key"))
        except ModelServerInvalid as error:
            raise _refused(error) from None
        return Response(letta.provider(row))

    @extend_schema(tags=TAG, summary="Delete a model server no agent uses", request=None, responses=DeletedOut)
    def delete(self, request: Request, provider_id: str) -> Response:
        row = model_server_of(owner=request.user, server_id=from_id("provider", provider_id))
        try:
            model_server_delete(server=row)
        except ValueError as error:
            raise Conflict(str(error), code="provider_in_use") from None
        return Response({"message": f"Model server {row.name} deleted."})
