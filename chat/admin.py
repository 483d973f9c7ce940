from django.contrib import admin

from chat.models import Conversation, Message
from ironclad.admin import ModelAdmin


class MessageInline(admin.TabularInline):
    """A conversation's messages as they were: operators read them, never edit them."""

    model = Message
    fields = readonly_fields = ("created_at", "role", "content", "tool_calls")
    ordering = ["created_at", "id"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Conversation)
class ConversationAdmin(ModelAdmin):
    list_display = ["id", "title", "user", "created_at", "updated_at"]
    list_select_related = ["user"]
    search_fields = ["title", "user__email", "messages__content"]
    readonly_fields = ["id", "created_at", "updated_at"]
    raw_id_fields = ["user"]
    date_hierarchy = "updated_at"
    inlines = [MessageInline]
