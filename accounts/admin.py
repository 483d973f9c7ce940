from typing import TYPE_CHECKING

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import Account, OAuthClient, Session, User
from ironclad.admin import ModelAdmin

if TYPE_CHECKING:  # Django's admin classes take type arguments in django-stubs only, not at run time
    _SessionInlineBase = admin.TabularInline[Session, User]
else:
    _SessionInlineBase = admin.TabularInline

SESSION_INLINE_FIELDS = ("id", "created_at", "expires_at", "ip_address", "user_agent")


class SessionInline(_SessionInlineBase):
    model = Session
    fields = SESSION_INLINE_FIELDS
    readonly_fields = SESSION_INLINE_FIELDS
    extra = 0
    can_delete = True
    show_change_link = True


@admin.register(User)
class UserAdmin(ModelAdmin):
    list_display = ["email", "name", "email_verified", "created_at"]
    list_filter = ["email_verified", "created_at"]
    search_fields = ["email", "name", "id"]
    readonly_fields = ["id", "created_at", "updated_at"]
    inlines = [SessionInline]
    actions = ["revoke_sessions"]

    @admin.action(description="Revoke all sessions of the selected users")
    def revoke_sessions(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        deleted, _ = Session.objects.filter(user__in=queryset).delete()
        self.message_user(request, f"Revoked {deleted} session(s).", messages.SUCCESS)


@admin.register(Session)
class SessionAdmin(ModelAdmin):
    list_display = ["id", "user", "created_at", "expires_at", "ip_address"]
    list_filter = ["expires_at", "created_at"]
    list_select_related = ["user"]
    search_fields = ["user__email", "user__name", "ip_address", "id"]
    readonly_fields = ["id", "token", "created_at", "updated_at"]
    raw_id_fields = ["user"]
    actions = ["revoke"]

    @admin.action(description="Revoke the selected sessions (sign those devices out)")
    def revoke(self, request: HttpRequest, queryset: QuerySet[Session]) -> None:
        deleted, _ = queryset.delete()
        self.message_user(request, f"Revoked {deleted} session(s).", messages.SUCCESS)


@admin.register(Account)
class AccountAdmin(ModelAdmin):
    list_display = ["provider_id", "user", "account_id", "created_at"]
    list_filter = ["provider_id"]
    list_select_related = ["user"]
    search_fields = ["user__email", "account_id"]
    readonly_fields = ["id", "created_at", "updated_at"]
    raw_id_fields = ["user"]
    # Secrets stay out of the admin, even for operators.
    exclude = ["password", "access_token", "refresh_token", "id_token"]


@admin.register(OAuthClient)
class OAuthClientAdmin(ModelAdmin):
    """Applications registered with the front end's OAuth provider (MCP clients, mostly). They
    register themselves; an operator's part is to cut one off: a disabled client's access tokens
    are refused on /mcp at once."""

    list_display = ["__str__", "client_id", "user", "disabled", "created_at"]
    list_filter = ["disabled", "created_at"]
    list_select_related = ["user"]
    search_fields = ["name", "client_id", "user__email"]
    fields = ["name", "client_id", "user", "disabled", "redirect_uris", "scopes", "uri", "created_at"]
    readonly_fields = ["name", "client_id", "user", "redirect_uris", "scopes", "uri", "created_at"]
    actions = ["disable", "enable"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # clients register with better-auth, which keeps their secrets

    @admin.action(description="Disable the selected clients (their tokens stop working)")
    def disable(self, request: HttpRequest, queryset: QuerySet[OAuthClient]) -> None:
        changed = queryset.update(disabled=True)
        self.message_user(request, f"Disabled {changed} client(s).", messages.SUCCESS)

    @admin.action(description="Enable the selected clients")
    def enable(self, request: HttpRequest, queryset: QuerySet[OAuthClient]) -> None:
        changed = queryset.update(disabled=False)
        self.message_user(request, f"Enabled {changed} client(s).", messages.SUCCESS)
