"""Request validation and response shapes of the /v1 routes, after letta_client.types; one
module per resource, every serializer importable from here (`from playground.api import serializers as s`).

Inputs accept what the Letta SDK sends and ignore the fields the playground has no use for
(project ids, templates, identities); fields the playground cannot honour are refused with a
400 that says so. Outputs carry every field the SDK requires, plus a few of ours (marked).
"""

from playground.api.serializers.common import DeletedOut, ListQuery
from playground.api.serializers.tools import EmbeddingConfigOut, ModelOut, ToolOut
from playground.api.serializers.blocks import BlockCreate, BlockListQuery, BlockOut, BlockUpdate
from playground.api.serializers.agents import (
    AgentCreate, AgentListQuery, AgentOut, AgentUpdate, ContextOut, LlmConfigOut, MemoryOut,
)
from playground.api.serializers.folders import FileOut, FileUpload, FolderCreate, FolderOut, FolderUpdate
from playground.api.serializers.passages import (
    ArchivalHitOut, ArchivalSearchOut, ArchivalSearchQuery, PassageCreate, PassageHitOut, PassageListQuery,
    PassageOut, PassageSearch,
)
from playground.api.serializers.messages import (
    CancelIn, LettaResponseOut, MessageHitOut, MessageListQuery, MessageOut, MessageSearch, MessageSend,
    ResetIn, RunStreamIn, StopReasonOut, UsageOut,
)
from playground.api.serializers.runs import RunListQuery, RunOut, RunUsageOut, StepListQuery, StepOut, StepTraceOut
from playground.api.serializers.agent_file import ExportQuery, ImportForm, ImportOut
from playground.api.serializers.groups import GroupCreate, GroupListQuery, GroupOut, GroupUpdate
