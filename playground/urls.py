from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from playground.views import agents, inspect, memory, settings, sources, tools
from playground.views.health import healthz

agent = "agents/<int:agent_id>/"

urlpatterns = [
    path("", agents.agent_list, name="home"),
    path("healthz", healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("v1/", include("playground.api.urls")),
    path("agents/new", agents.agent_new, name="agent-new"),
    path(agent, agents.agent_page, name="agent"),
    path(agent + "delete", agents.agent_remove, name="agent-delete"),
    path(agent + "duplicate", agents.agent_copy, name="agent-duplicate"),
    path(agent + "messages", agents.agent_send, name="agent-send"),
    path(agent + "history", agents.agent_history, name="agent-history"),
    path(agent + "actions/<str:action>", agents.agent_action, name="agent-action"),
    path(agent + "memory", memory.memory_panel, name="memory"),
    path(agent + "blocks/new", memory.block_add, name="block-add"),
    path(agent + "blocks/share", memory.block_share, name="block-share"),
    path(agent + "blocks/<int:block_id>/", memory.block_save, name="block-save"),
    path(agent + "blocks/<int:block_id>/detach", memory.block_remove, name="block-detach"),
    path(agent + "blocks/<int:block_id>/history", memory.block_history, name="block-history"),
    path(agent + "blocks/<int:block_id>/restore/<int:revision_id>", memory.block_revert, name="block-restore"),
    path(agent + "recall", memory.recall_panel, name="recall"),
    path(agent + "archival", memory.archival_panel, name="archival"),
    path(agent + "archival/add", memory.archival_add, name="archival-add"),
    path(agent + "archival/<int:passage_id>/delete", memory.archival_remove, name="archival-delete"),
    path(agent + "context", inspect.inspector_panel, name="inspector"),
    path(agent + "traces", inspect.traces_panel, name="traces"),
    path(agent + "tools", tools.agent_tools, name="agent-tools"),
    path(agent + "tools/<str:action>", tools.agent_tool_change, name="agent-tool-change"),
    path(agent + "rules/new", tools.agent_rule_add, name="agent-rule-add"),
    path(agent + "rules/<int:index>/delete", tools.agent_rule_remove, name="agent-rule-delete"),
    path(agent + "settings", settings.agent_settings, name="agent-settings"),
    path(agent + "steps/<int:step_id>", inspect.step_detail, name="step"),
    path(agent + "steps/<int:step_id>.json", inspect.step_download, name="step-json"),
    path("sources/", sources.source_list, name="sources"),
    path("sources/new", sources.source_new, name="source-new"),
    path("sources/<int:source_id>/upload", sources.source_upload, name="source-upload"),
    path("sources/<int:source_id>/delete", sources.source_remove, name="source-delete"),
    path("sources/<int:source_id>/agents/<str:action>", sources.source_agents, name="source-agents"),
    path("documents/<int:document_id>/", sources.document_row, name="document-row"),
    path("documents/<int:document_id>/<str:action>", sources.document_action, name="document-action"),
    path("tools/", tools.tool_list, name="tools"),
    path("tools/new", tools.tool_new, name="tool-new"),
    path("tools/preview", tools.tool_preview, name="tool-preview"),
    path("tools/<int:tool_id>/", tools.tool_page, name="tool"),
    path("tools/<int:tool_id>/delete", tools.tool_remove, name="tool-delete"),
    path("tools/<int:tool_id>/run", tools.tool_run_page, name="tool-run"),
]
