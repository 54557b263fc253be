"""Core memory blocks in forms, their revisions, and the recall and archival browsers."""

import difflib
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET, require_POST

from agents.services import block_attach, block_detach, block_edit
from memory.models import Block, BlockRevision, Passage
from memory.search import MessageScope, PassageScope
from memory.selectors import message_list, message_search, passage_list, passage_search
from memory.errors import BlockEditRefused, BlockLabelTaken
from memory.services import block_create, passage_delete, passage_insert
from playground.forms import ArchivalSearchForm, BlockForm, PassageForm, RecallSearchForm, id_param
from playground.views.access import owned_agent


def agent_block(agent, block_id: int) -> Block:
    return get_object_or_404(Block, pk=block_id, blockattachment__agent=agent)


def _block_form(request, agent, block, form, *, saved=False, status=200):
    return render(request, "agents/detail.html#block", {"agent": agent, "block": block, "block_form": form,
                                                         "saved": saved}, status=status)


@login_required
@require_POST
def block_save(request, agent_id: int, block_id: int):
    agent = owned_agent(request, agent_id)
    block = agent_block(agent, block_id)
    form = BlockForm(request.POST, instance=Block.objects.get(pk=block.pk), agent=agent)
    if not form.is_valid():
        return _block_form(request, agent, block, form, status=422)
    try:
        block = block_edit(block_id=block.pk, user=request.user,
                           fields={name: form.cleaned_data[name] for name in form.changed_data})
    except BlockEditRefused as error:
        form.add_error("label" if isinstance(error, BlockLabelTaken) else "value", str(error))
        return _block_form(request, agent, block, form, status=422)
    return _block_form(request, agent, block, BlockForm(instance=block, agent=agent), saved=True)


@login_required
@require_POST
def block_add(request, agent_id: int):
    agent = owned_agent(request, agent_id)
    form = BlockForm(request.POST, agent=agent)
    if not form.is_valid():
        return render(request, "agents/detail.html#new-block", {"agent": agent, "new_block_form": form}, status=422)
    block = block_create(owner=request.user, **form.cleaned_data)
    block_attach(block=block, agent=agent)
    return render(request, "agents/detail.html#memory", memory_context(agent))


@login_required
@require_POST
def block_share(request, agent_id: int):
    """Attach a block that another of the user's agents has: both then read and edit the same block."""
    agent = owned_agent(request, agent_id)
    block = get_object_or_404(Block, pk=id_param(request.POST.get("block"), "block"), owner=request.user)
    try:
        block_attach(block=block, agent=agent)
    except ValueError as error:
        return render(request, "agents/detail.html#memory", {**memory_context(agent), "memory_error": str(error)})
    return render(request, "agents/detail.html#memory", memory_context(agent))


@login_required
@require_POST
def block_remove(request, agent_id: int, block_id: int):
    agent = owned_agent(request, agent_id)
    block_detach(block=agent_block(agent, block_id), agent=agent, delete_if_unused=True)
    return render(request, "agents/detail.html#memory", memory_context(agent))


def memory_context(agent) -> dict:
    blocks = list(agent.blocks.order_by("blockattachment__position", "id"))
    shareable = Block.objects.filter(owner=agent.owner).exclude(pk__in=[b.pk for b in blocks]).order_by("label")
    return {"agent": agent, "block_forms": [(b, BlockForm(instance=b, agent=agent)) for b in blocks],
            "shareable": shareable, "new_block_form": BlockForm(agent=agent)}


@login_required
@require_GET
def memory_panel(request, agent_id: int):
    return render(request, "agents/detail.html#memory", memory_context(owned_agent(request, agent_id)))


def diff_lines(before: str, after: str) -> list[tuple[str, str]]:
    """(kind, line) pairs of a line diff: kind is add, remove or same."""
    kinds = {"+": "add", "-": "remove", " ": "same"}
    return [(kinds[line[0]], line[2:]) for line in difflib.ndiff(before.splitlines(), after.splitlines()) if line[0] in kinds]


@login_required
@require_GET
def block_history(request, agent_id: int, block_id: int):
    agent = owned_agent(request, agent_id)
    block = agent_block(agent, block_id)
    revisions = block.revisions.select_related("user", "step__agent").order_by("-id")[:50]
    entries = [{"revision": r, "fields": [
        {"name": name, "diff": diff_lines(str(r.before.get(name, "")), str(r.after.get(name, "")))} for name in r.after]}
        for r in revisions]
    return render(request, "agents/detail.html#history-list", {"agent": agent, "block": block, "entries": entries})


@login_required
@require_POST
def block_revert(request, agent_id: int, block_id: int, revision_id: int):
    agent = owned_agent(request, agent_id)
    block = agent_block(agent, block_id)
    revision = get_object_or_404(BlockRevision, pk=revision_id, block=block)
    try:
        restored = block_edit(block_id=block.pk, user=request.user, revision=revision)
    except BlockEditRefused as error:
        form = BlockForm(instance=block, agent=agent)
        form.add_error(None, f"Cannot restore: {error}")
        return _block_form(request, agent, block, form)
    return _block_form(request, agent, restored, BlockForm(instance=restored, agent=agent), saved=True)


@login_required
@require_GET
def recall_panel(request, agent_id: int):
    agent = owned_agent(request, agent_id)
    form = RecallSearchForm(request.GET or None)
    results, total, searched = [], 0, False
    if form.is_valid() and any(form.cleaned_data.values()):
        searched = True
        data = form.cleaned_data
        start, end = form.bounds()
        scope = MessageScope(agent_id=agent.pk, start=start, end=end)
        if data["q"]:
            results, ranked = message_search(scope=scope, query=data["q"], embedding_models=[agent.embedding_model],
                                             page_size=20)
            total = ranked.total
        else:
            messages = message_list(scope=scope)
            results, total = list(messages[:50]), messages.count()
    return render(request, "agents/detail.html#recall", {"agent": agent, "recall_form": form, "results": results,
                                                          "total": total, "searched": searched},
                  status=422 if form.errors else 200)


@login_required
@require_GET
def archival_panel(request, agent_id: int):
    agent = owned_agent(request, agent_id)
    form = ArchivalSearchForm(request.GET)
    if not form.is_valid():  # a NUL character, say: the search box shows why
        return render(request, "agents/detail.html#archival", {
            "agent": agent, "passages": [], "total": 0, "q": "", "passage_form": PassageForm(),
            "search_error": " ".join(form.errors["q"])}, status=422)
    query = form.cleaned_data["q"]
    if query:
        passages, ranked = passage_search(scope=PassageScope(agent_id=agent.pk), query=query,
                                          embedding_models=[agent.embedding_model], page_size=20)
        page, total = passages, ranked.total
    else:
        paginator = Paginator(passage_list(scope=PassageScope(agent_id=agent.pk)).order_by("-id"), 20)
        page = paginator.get_page(request.GET.get("page"))
        total = paginator.count
    return render(request, "agents/detail.html#archival", {"agent": agent, "passages": page, "total": total, "q": query,
                                                            "passage_form": PassageForm()})


@login_required
@require_POST
def archival_add(request, agent_id: int):
    agent = owned_agent(request, agent_id)
    form = PassageForm(request.POST)
    if form.is_valid():
        passage_insert(owner_id=request.user.pk, agent_id=agent.pk, text=form.cleaned_data["text"],
                       embedding_model=agent.embedding_model)
        form = PassageForm()
    return _archival_list(request, agent, form)


@login_required
@require_POST
def archival_remove(request, agent_id: int, passage_id: int):
    agent = owned_agent(request, agent_id)
    passage = Passage.objects.filter(pk=passage_id, agent=agent).first()
    if passage is None:
        raise Http404("No such passage in this agent's own archival memory")
    passage_delete(passage=passage)
    return _archival_list(request, agent, PassageForm())


def _archival_list(request, agent, form: PassageForm):
    passages = passage_list(scope=PassageScope(agent_id=agent.pk)).order_by("-id")
    return render(request, "agents/detail.html#archival", {"agent": agent, "passages": passages[:20],
                                                            "total": passages.count(), "q": "", "passage_form": form})
