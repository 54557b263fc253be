"""An agent's settings (the Settings tab of the agent page): model, window, prompt, limits, thresholds;
and a person's model servers (the Model servers page), whose models the model field offers."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from agents.errors import ModelServerInvalid
from agents.llm.catalog import model_catalog
from agents.selectors import model_servers_of
from agents.services import agent_update, model_server_create, model_server_delete, model_server_update
from playground.forms import AgentSettingsForm, ModelServerForm, ModelServerKeyForm
from playground.views.access import owned_agent


@login_required
@require_http_methods(["GET", "POST"])
def agent_settings(request, agent_id: int):
    agent = owned_agent(request, agent_id)
    catalog = model_catalog(owner=request.user)  # the models offered; a server that does not answer is named
    form = AgentSettingsForm.of(agent, request.POST if request.method == "POST" else None, catalog=catalog)
    page = {"agent": agent, "settings_form": form, "catalog": catalog}
    if request.method == "GET" or not form.is_valid():
        return render(request, "agents/detail.html#settings", page, status=422 if form.errors else 200)
    try:
        agent_update(agent=agent, **form.changes())
    except ValueError as error:  # settings that cannot work together, in the service's words
        form.add_error(None, str(error))
        agent.refresh_from_db()
        return render(request, "agents/detail.html#settings", page, status=422)
    return render(request, "agents/detail.html#settings-saved",
                  {**page, "settings_form": AgentSettingsForm.of(agent, catalog=catalog), "saved": True})


def _servers(request, *, form=None, status=200, problems=None, changed=False):
    """The Model servers page, or its list of servers for htmx; `problems` by server id, shown in its row;
    `changed`: a server was added, changed or deleted, so the list of models is asked for again."""
    template = "settings/model_servers.html#servers" if request.htmx else "settings/model_servers.html"
    kinds = dict(ModelServerForm.base_fields["kind"].choices)
    servers = [(server, kinds.get(server.kind, server.kind)) for server in model_servers_of(owner=request.user)]
    return render(request, template, {"servers": servers, "form": form or ModelServerForm(),
                                      "key_form": ModelServerKeyForm(auto_id=False), "problems": problems or {},
                                      "changed": changed}, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def model_servers(request):
    if request.method == "GET":
        return _servers(request)
    form = ModelServerForm(request.POST)
    if form.is_valid():
        try:
            model_server_create(owner=request.user, **form.cleaned_data)
            return _servers(request, changed=True) if request.htmx else redirect("model-servers")  # a plain form: no resubmit on reload
        except ModelServerInvalid as error:
            for field, problem in error.errors.items():
                form.add_error(field, problem)
    return _servers(request, form=form, status=422)


@login_required
@require_POST
def model_server_key(request, server_id: int):
    server = get_object_or_404(model_servers_of(owner=request.user), pk=server_id)
    form = ModelServerKeyForm(request.POST)
    try:
        if not form.is_valid():
            raise ModelServerInvalid({"api_key": "Enter the new key."})
        model_server_update(server=server, api_key=form.cleaned_data["api_key"])
    except ModelServerInvalid as error:
        return _servers(request, status=422, problems={server.pk: str(error)})
    return _servers(request, changed=True)


@login_required
@require_POST
def model_server_remove(request, server_id: int):
    server = get_object_or_404(model_servers_of(owner=request.user), pk=server_id)
    try:
        model_server_delete(server=server)
    except ValueError as error:  # agents use it
        return _servers(request, status=422, problems={server.pk: str(error)})
    return _servers(request, changed=True)


@login_required
@require_GET
def model_server_models(request):
    """Every model the person's agents may use, with its window (loaded after the page: servers may be slow)."""
    return render(request, "settings/model_servers.html#models", {"catalog": model_catalog(owner=request.user)})
