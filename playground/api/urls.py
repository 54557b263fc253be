"""Every route under /v1, written as the Letta SDK writes it (collections end in "/", items do
not); each also answers with the other spelling, since clients differ and a redirect would lose
a POST body. Only the SDK's spelling goes into the OpenAPI schema."""

import re

from django.urls import URLPattern, path, re_path
from drf_spectacular.views import SpectacularJSONAPIView

from playground.api import schema  # noqa: F401  (registers the bearer scheme with drf-spectacular)
from playground.api.errors import not_found
from playground.api.views import (agents, archival, blocks, docs, folders, forks, groups, messages, providers, recall,
                                  runs, schedules, tools)
from playground.api.views import replays
from playground.api.views import rewinds
from playground.api.views.scenarios import RunScenario

SCHEMA_PATHS: set[str] = set()


def route(pattern: str, view, name: str) -> list[URLPattern]:
    SCHEMA_PATHS.add("/v1/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", pattern))
    other = pattern[:-1] if pattern.endswith("/") else pattern + "/"
    return [path(pattern, view, name=name), path(other, view)]


agent = "agents/<str:agent_id>/"

urlpatterns = [
    *route("agents/", agents.AgentList.as_view(), "api-agents"),
    *route("tags/", agents.TagList.as_view(), "api-tags"),
    *route("agents/import", agents.AgentImport.as_view(), "api-agent-import"),
    *route("agents/<str:agent_id>", agents.AgentDetail.as_view(), "api-agent"),
    *route(agent + "context", agents.AgentContext.as_view(), "api-agent-context"),
    *route(agent + "recompile", agents.AgentRecompile.as_view(), "api-agent-recompile"),
    *route(agent + "export", agents.AgentExport.as_view(), "api-agent-export"),
    *route(agent + "tools", tools.AgentTools.as_view(), "api-agent-tools"),
    *route(agent + "tools/attach/<str:tool_id>", tools.AgentToolAttach.as_view(), "api-agent-tool-attach"),
    *route(agent + "tools/detach/<str:tool_id>", tools.AgentToolDetach.as_view(), "api-agent-tool-detach"),
    *route(agent + "tools/<str:tool_name>/run", tools.AgentToolRun.as_view(), "api-agent-tool-run"),
    *route(agent + "core-memory/blocks", blocks.AgentBlocks.as_view(), "api-agent-blocks"),
    *route(agent + "core-memory/blocks/attach/<str:block_id>", blocks.AgentBlockAttach.as_view(), "api-agent-block-attach"),
    *route(agent + "core-memory/blocks/detach/<str:block_id>", blocks.AgentBlockDetach.as_view(), "api-agent-block-detach"),
    *route(agent + "core-memory/blocks/<str:block_label>", blocks.AgentBlock.as_view(), "api-agent-block"),
    *route(agent + "archival-memory", archival.AgentArchival.as_view(), "api-agent-archival"),
    *route(agent + "archival-memory/search", archival.AgentArchivalSearch.as_view(), "api-agent-archival-search"),
    *route(agent + "archival-memory/<str:memory_id>", archival.AgentArchivalItem.as_view(), "api-agent-passage"),
    *route(agent + "messages", messages.AgentMessages.as_view(), "api-agent-messages"),
    *route(agent + "messages/stream", messages.AgentMessagesStream.as_view(), "api-agent-messages-stream"),
    *route(agent + "messages/async", messages.AgentMessagesAsync.as_view(), "api-agent-messages-async"),
    *route(agent + "messages/cancel", messages.AgentMessagesCancel.as_view(), "api-agent-messages-cancel"),
    *route(agent + "reset-messages", messages.AgentMessagesReset.as_view(), "api-agent-reset"),
    *route(agent + "messages/<str:message_id>", recall.AgentMessageEdit.as_view(), "api-agent-message"),
    *route(agent + "summarize", recall.AgentSummarize.as_view(), "api-agent-summarize"),
    *route(agent + "fork", forks.AgentFork.as_view(), "api-agent-fork"),
    *route(agent + "continue", forks.AgentContinue.as_view(), "api-agent-continue"),
    *route(agent + "rewind", rewinds.AgentRewind.as_view(), "api-agent-rewind"),
    *route(agent + "rewinds", rewinds.AgentRewinds.as_view(), "api-agent-rewinds"),
    *route(agent + "rewinds/<str:rewind_id>/undo", rewinds.AgentRewindUndo.as_view(), "api-agent-rewind-undo"),
    *route(agent + "rewinds/<str:rewind_id>/confirm", rewinds.AgentRewindConfirm.as_view(), "api-agent-rewind-confirm"),
    *route(agent + "schedule", schedules.AgentSchedules.as_view(), "api-agent-schedules"),
    *route(agent + "schedule/<str:scheduled_message_id>", schedules.AgentSchedule.as_view(), "api-agent-schedule"),
    *route(agent + "folders", folders.AgentFolders.as_view(), "api-agent-folders"),
    *route(agent + "folders/attach/<str:folder_id>", folders.AgentFolderAttach.as_view(), "api-agent-folder-attach"),
    *route(agent + "folders/detach/<str:folder_id>", folders.AgentFolderDetach.as_view(), "api-agent-folder-detach"),
    *route("blocks/", blocks.BlockList.as_view(), "api-blocks"),
    *route("blocks/<str:block_id>", blocks.BlockDetail.as_view(), "api-block"),
    *route("blocks/<str:block_id>/agents", blocks.BlockAgents.as_view(), "api-block-agents"),
    *route("messages/", recall.AllMessages.as_view(), "api-messages"),
    *route("messages/search", messages.MessageSearch.as_view(), "api-message-search"),
    *route("messages/<str:message_id>", messages.MessageDetail.as_view(), "api-message"),
    *route("passages/search", archival.PassageSearch.as_view(), "api-passage-search"),
    *route("runs/", runs.RunList.as_view(), "api-runs"),
    *route("runs/<str:run_id>", runs.RunDetail.as_view(), "api-run"),
    *route("runs/<str:run_id>/messages", runs.RunMessages.as_view(), "api-run-messages"),
    *route("runs/<str:run_id>/stream", runs.RunStream.as_view(), "api-run-stream"),
    *route("runs/<str:run_id>/steps", runs.RunSteps.as_view(), "api-run-steps"),
    *route("runs/<str:run_id>/usage", runs.RunUsage.as_view(), "api-run-usage"),
    *route("runs/<str:run_id>/trace", runs.RunTrace.as_view(), "api-run-trace"),
    *route("runs/<str:run_id>/scenario", RunScenario.as_view(), "api-run-scenario"),
    *route("steps/", runs.StepList.as_view(), "api-steps"),
    *route("steps/<str:step_id>", runs.StepDetail.as_view(), "api-step"),
    *route("steps/<str:step_id>/trace", runs.StepTrace.as_view(), "api-step-trace"),
    *route("steps/<str:step_id>/messages", runs.StepMessages.as_view(), "api-step-messages"),
    *route("steps/<str:step_id>/replay", replays.step_replay, "api-step-replay"),
    *route("steps/<str:step_id>/replays", replays.StepReplays.as_view(), "api-step-replays"),
    *route("replays/<str:replay_id>", replays.ReplayDetail.as_view(), "api-replay"),
    *route("folders/", folders.FolderList.as_view(), "api-folders"),
    *route("folders/<str:folder_id>", folders.FolderDetail.as_view(), "api-folder"),
    *route("folders/<str:folder_id>/files", folders.FolderFiles.as_view(), "api-folder-files"),
    *route("folders/<str:folder_id>/files/<str:file_id>", folders.FolderFile.as_view(), "api-folder-file"),
    *route("folders/<str:folder_id>/upload", folders.FolderUpload.as_view(), "api-folder-upload"),
    *route("folders/<str:folder_id>/agents", folders.FolderAgents.as_view(), "api-folder-agents"),
    *route("folders/<str:folder_id>/<str:file_id>", folders.FolderFileDelete.as_view(), "api-folder-file-delete"),
    *route("tools/", tools.ToolList.as_view(), "api-tools"),
    *route("tools/search", tools.ToolSearch.as_view(), "api-tool-search"),
    *route("tools/<str:tool_id>", tools.ToolDetail.as_view(), "api-tool"),
    *route("groups/", groups.GroupList.as_view(), "api-groups"),
    *route("groups/<str:group_id>", groups.GroupDetail.as_view(), "api-group"),
    *route("groups/<str:group_id>/messages", groups.GroupMessages.as_view(), "api-group-messages"),
    *route("groups/<str:group_id>/reset-messages", groups.GroupReset.as_view(), "api-group-reset"),
    *route("models/", tools.ModelList.as_view(), "api-models"),
    *route("models/embedding", tools.EmbeddingModelList.as_view(), "api-embedding-models"),
    *route("providers/", providers.ProviderList.as_view(), "api-providers"),
    *route("providers/<str:provider_id>", providers.ProviderDetail.as_view(), "api-provider"),
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="api-schema"),
    path("docs", docs.api_docs, name="api-docs"),
    re_path(r"^.*$", not_found),  # JSON, not Django's HTML page, for any other /v1 path
]
