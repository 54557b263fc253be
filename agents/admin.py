from django.contrib import admin

from agents.models import Agent, Run, Step


@admin.register(Agent)
class AgentAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "model", "context_window", "last_active_at", "created_at"]
    list_filter = ["model", "created_at"]
    search_fields = ["name", "description", "owner__username"]
    raw_id_fields = ["owner"]


class StepInline(admin.TabularInline):
    model = Step
    fields = ["index", "model", "prompt_tokens", "completion_tokens", "latency_ms", "error"]
    readonly_fields = fields
    extra = 0
    show_change_link = True


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ["id", "agent", "trigger", "status", "stop_reason", "created_at", "finished_at"]
    list_filter = ["status", "trigger", "stop_reason"]
    search_fields = ["agent__name", "input", "error"]
    raw_id_fields = ["agent"]
    inlines = [StepInline]


@admin.register(Step)
class StepAdmin(admin.ModelAdmin):
    list_display = ["id", "run", "index", "model", "prompt_tokens", "completion_tokens", "latency_ms", "created_at"]
    list_filter = ["model"]
    search_fields = ["agent__name", "error"]
    raw_id_fields = ["run", "agent"]
