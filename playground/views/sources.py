"""Sources of documents: upload, watch ingestion, attach to agents."""

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_POST

from memory.errors import UploadQuotaExceeded
from memory.models import Document, Source
from memory.services import (document_add, document_cancel, document_delete, document_reingest, source_attach,
                             source_create, source_delete, source_detach)
from playground.forms import SourceForm, id_param
from playground.middleware import accepts_uploads
from playground.views.access import owned_agent


def owned_source(request, source_id: int) -> Source:
    return get_object_or_404(Source, pk=source_id, owner=request.user)


def owned_document(request, document_id: int) -> Document:
    return get_object_or_404(Document, pk=document_id, owner=request.user)


def _source(request, source: Source, status: int = 200, **extra):
    # "inner": the card alone, inside the element that holds the source's websocket (kept open)
    context = {"source": source, "documents": source.documents.order_by("-id"), "inner": True,
               "agents": request.user.agents.exclude(sources=source).order_by("name"), **extra}
    return render(request, "sources/list.html#source", context, status=status)


@login_required
@require_GET
def source_list(request):
    sources = request.user.sources.prefetch_related("documents", "agents").order_by("name")
    return render(request, "sources/list.html", {"sources": sources, "agents": request.user.agents.order_by("name")})


@login_required
@require_POST
def source_new(request):
    form = SourceForm(request.POST)
    if form.is_valid():
        try:
            source = source_create(owner=request.user, **form.cleaned_data)
        except ValueError as error:
            form.add_error(None, str(error))
    if form.errors:
        error = " ".join(f"{'' if name == '__all__' else name + ': '}{' '.join(errors)}" for name, errors in form.errors.items())
        return render(request, "sources/list.html#new-source", {"source_error": error}, status=422)
    return render(request, "sources/list.html#created", {"source": source, "documents": [],
                                                         "agents": request.user.agents.order_by("name")})


@accepts_uploads
@login_required
@require_POST
def source_upload(request, source_id: int):
    source = owned_source(request, source_id)
    files = request.FILES.getlist("files")
    if not files:
        return _source(request, source, upload_error="Choose or drop one or more files.")
    for upload in files:
        try:
            document_add(owner=request.user, source=source, file=upload, filename=upload.name)
        except UploadQuotaExceeded as error:  # the files before it are stored, and listed
            return _source(request, source, upload_error=str(error), status=422)
    return _source(request, source)


@login_required
@require_GET
def document_row(request, document_id: int):
    """A document's row, for the few seconds a progress event could have been missed (the websocket
    reconnecting)."""
    return render(request, "sources/list.html#document", {"document": owned_document(request, document_id)})


@login_required
@require_POST
def document_action(request, document_id: int, action: str):
    document = owned_document(request, document_id)
    source = document.source
    try:
        if action == "cancel":
            document_cancel(document=document)
        elif action == "rerun":
            document_reingest(document=document)
        elif action == "delete":
            document_delete(document=document)
        else:
            raise Http404("No such action")
    except ValueError as error:
        return _source(request, source, upload_error=str(error))
    return _source(request, source)


@login_required
@require_POST
def source_agents(request, source_id: int, action: str):
    """Attach the source to an agent, or detach it: its passages join or leave the agent's archival memory."""
    source = owned_source(request, source_id)
    agent = owned_agent(request, id_param(request.POST.get("agent"), "agent"))
    try:
        if action == "attach":
            source_attach(source=source, agent=agent)
        elif action == "detach":
            source_detach(source=source, agent=agent)
        else:
            raise Http404("No such action")
    except ValueError as error:
        return _source(request, source, upload_error=str(error))
    return _source(request, source)


@login_required
@require_POST
def source_remove(request, source_id: int):
    source_delete(source=owned_source(request, source_id))
    return render(request, "sources/list.html#removed", {"source_id": source_id})
