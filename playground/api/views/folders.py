"""Folders of documents (Letta's folders; our Sources) and their files, attached to agents."""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from agents.selectors import agent_for_owner
from memory.models import Document, Source
from memory.services import document_delete, document_upload, source_attach, source_create, source_delete
from memory.services import source_detach, source_update
from playground.api import serializers as s
from playground.api.errors import Conflict, PayloadTooLarge
from playground.api.ids import from_id, to_id
from playground.api.selectors import file_get, folder_get
from playground.api.views.agents import agent_out
from playground.api.views.base import ApiView, body, listed, query, valid

TAG = ["folders"]


def _too_large(size: int) -> PayloadTooLarge:
    limit = settings.UPLOAD_MAX_BYTES / (1024 * 1024)
    return PayloadTooLarge(f"The file has {size / (1024 * 1024):.1f} MB; the limit is {limit:.1f} MB (UPLOAD_MAX_BYTES).")


class FolderList(ApiView):
    @extend_schema(tags=TAG, summary="List folders", parameters=[s.ListQuery], responses=s.FolderOut(many=True))
    def get(self, request: Request) -> Response:
        folders = Source.objects.filter(owner=request.user)
        return Response(s.FolderOut(listed(folders, query(request, s.ListQuery), "source"), many=True).data)

    @extend_schema(tags=TAG, summary="Create a folder", request=s.FolderCreate, responses={201: s.FolderOut})
    def post(self, request: Request) -> Response:
        data = body(request, s.FolderCreate)
        if Source.objects.filter(owner=request.user, name=data["name"].strip()).exists():
            raise Conflict(f"You already have a folder named {data['name'].strip()!r}.")
        folder = source_create(owner=request.user, name=data["name"], description=data.get("description") or "")
        return Response(s.FolderOut(folder).data, status=status.HTTP_201_CREATED)


class FolderDetail(ApiView):
    @extend_schema(tags=TAG, summary="Retrieve a folder", responses=s.FolderOut)
    def get(self, request: Request, folder_id: str) -> Response:
        return Response(s.FolderOut(folder_get(request.user, from_id("source", folder_id))).data)

    @extend_schema(tags=TAG, summary="Rename a folder or change its description", request=s.FolderUpdate,
                   responses=s.FolderOut)
    def patch(self, request: Request, folder_id: str) -> Response:
        folder = folder_get(request.user, from_id("source", folder_id))
        data = body(request, s.FolderUpdate)
        if "description" in data:
            data["description"] = data["description"] or ""
        return Response(s.FolderOut(source_update(source=folder, **data)).data)

    @extend_schema(tags=TAG, summary="Delete a folder with its files and their passages", responses=s.DeletedOut)
    def delete(self, request: Request, folder_id: str) -> Response:
        source_delete(source=folder_get(request.user, from_id("source", folder_id)))
        return Response({"message": f"Folder {folder_id} deleted."})


class FolderFiles(ApiView):
    @extend_schema(tags=TAG, summary="The files of a folder, with their processing status", parameters=[s.ListQuery],
                   responses=s.FileOut(many=True))
    def get(self, request: Request, folder_id: str) -> Response:
        folder = folder_get(request.user, from_id("source", folder_id))
        files = Document.objects.filter(source=folder)
        return Response(s.FileOut(listed(files, query(request, s.ListQuery), "file"), many=True).data)


class FolderUpload(ApiView):
    parser_classes = [MultiPartParser, FormParser]
    accepts_uploads = True  # its body may be as large as a document (playground.middleware)

    @extend_schema(tags=TAG, summary="Upload a file (PDF, text, markdown) to a folder; it is processed in the background",
                   request={"multipart/form-data": s.FileUpload}, responses=s.FileOut)
    def post(self, request: Request, folder_id: str) -> Response:
        folder = folder_get(request.user, from_id("source", folder_id))
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > settings.UPLOAD_MAX_BYTES + 64 * 1024:  # before reading it: the form's own fields are small
            raise _too_large(length)
        data = valid_upload(request)
        if data["file"].size > settings.UPLOAD_MAX_BYTES:
            raise _too_large(data["file"].size)
        document = document_upload(owner=request.user, source=folder, file=data["file"],
                                   filename=(data.get("name") or data["file"].name)[:255],
                                   duplicate_handling=data["duplicate_handling"])
        return Response(s.FileOut(document).data)


def valid_upload(request: Request) -> dict:
    """The multipart form, with duplicate_handling and name also taken from the query string,
    where the Letta SDK puts them."""
    data = {key: request.query_params[key] for key in ("duplicate_handling", "name") if key in request.query_params}
    data.update({key: value for key, value in request.data.items()})
    return valid(s.FileUpload, data)


class FolderFile(ApiView):
    @extend_schema(tags=TAG, summary="One file of a folder, with its processing status", responses=s.FileOut)
    def get(self, request: Request, folder_id: str, file_id: str) -> Response:
        folder = folder_get(request.user, from_id("source", folder_id))
        return Response(s.FileOut(file_get(folder, from_id("file", file_id))).data)


class FolderFileDelete(ApiView):
    @extend_schema(tags=TAG, summary="Delete a file and its passages", responses={204: None},
                   operation_id="folders_files_destroy")
    def delete(self, request: Request, folder_id: str, file_id: str) -> Response:
        folder = folder_get(request.user, from_id("source", folder_id))
        document_delete(document=file_get(folder, from_id("file", file_id)))
        return Response(status=status.HTTP_204_NO_CONTENT)


class FolderAgents(ApiView):
    @extend_schema(tags=TAG, summary="The ids of the agents a folder is attached to", parameters=[s.ListQuery],
                   responses={200: {"type": "array", "items": {"type": "string"}}})
    def get(self, request: Request, folder_id: str) -> Response:
        folder = folder_get(request.user, from_id("source", folder_id))
        agents = listed(folder.agents.all(), query(request, s.ListQuery), "agent")
        return Response([to_id("agent", agent.pk) for agent in agents])


class AgentFolders(ApiView):
    @extend_schema(tags=TAG, summary="The folders attached to an agent", parameters=[s.ListQuery],
                   responses=s.FolderOut(many=True))
    def get(self, request: Request, agent_id: str) -> Response:
        agent = agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id))
        folders = Source.objects.filter(agents=agent)
        return Response(s.FolderOut(listed(folders, query(request, s.ListQuery), "source"), many=True).data)


class AgentFolderAttach(ApiView):
    @extend_schema(tags=TAG, summary="Attach a folder: its files become part of the agent's archival memory",
                   request=None, responses=s.AgentOut)
    def patch(self, request: Request, agent_id: str, folder_id: str) -> Response:
        agent = agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id))
        source_attach(source=folder_get(request.user, from_id("source", folder_id)), agent=agent)
        return Response(agent_out(request.user, agent.pk))


class AgentFolderDetach(ApiView):
    @extend_schema(tags=TAG, summary="Detach a folder from an agent", request=None, responses=s.AgentOut)
    def patch(self, request: Request, agent_id: str, folder_id: str) -> Response:
        agent = agent_for_owner(owner=request.user, agent_id=from_id("agent", agent_id))
        source_detach(source=folder_get(request.user, from_id("source", folder_id)), agent=agent)
        return Response(agent_out(request.user, agent.pk))
