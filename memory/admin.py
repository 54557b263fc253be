from django.contrib import admin

from memory.models import Block, BlockAttachment, BlockRevision, Document, MemoryTemplate, Message, Passage, Source


class BlockAttachmentInline(admin.TabularInline):
    model = BlockAttachment
    raw_id_fields = ["agent"]
    extra = 0


@admin.register(Block)
class BlockAdmin(admin.ModelAdmin):
    list_display = ["label", "owner", "chars", "limit", "read_only", "updated_at"]
    list_filter = ["label", "read_only"]
    search_fields = ["label", "value", "description", "owner__username"]
    raw_id_fields = ["owner"]
    inlines = [BlockAttachmentInline]

    @admin.display(description="chars")
    def chars(self, block: Block) -> int:
        return len(block.value)


@admin.register(BlockRevision)
class BlockRevisionAdmin(admin.ModelAdmin):
    list_display = ["id", "block", "actor", "user", "step", "created_at"]
    list_filter = ["actor"]
    search_fields = ["block__label"]
    raw_id_fields = ["block", "user", "step"]


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ["id", "agent", "role", "kind", "short_text", "in_context", "created_at"]
    list_filter = ["role", "kind", "in_context"]
    search_fields = ["text", "agent__name"]
    raw_id_fields = ["owner", "agent", "run", "step"]
    exclude = ["embedding"]

    @admin.display(description="text")
    def short_text(self, message: Message) -> str:
        return message.text[:80]


@admin.register(Passage)
class PassageAdmin(admin.ModelAdmin):
    list_display = ["id", "short_text", "agent", "document", "page_start", "embedding_model", "created_at"]
    list_filter = ["embedding_model"]
    search_fields = ["text"]
    raw_id_fields = ["owner", "agent", "document"]
    exclude = ["embedding"]

    @admin.display(description="text")
    def short_text(self, passage: Passage) -> str:
        return passage.text[:80]


@admin.register(Source)
class SourceAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "created_at"]
    search_fields = ["name", "description"]
    raw_id_fields = ["owner"]
    filter_horizontal = ["agents"]


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ["filename", "source", "status", "pages_total", "chunks_total", "chunks_embedded", "created_at"]
    list_filter = ["status", "content_type"]
    search_fields = ["filename", "error"]
    raw_id_fields = ["owner", "source"]


@admin.register(MemoryTemplate)
class MemoryTemplateAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "owner"]
    list_filter = ["kind"]
    search_fields = ["name", "text"]
