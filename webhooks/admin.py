"""Webhooks, events and deliveries for operators: to read, and to act on through the same services
as their owners (disable, enable, redeliver), never by editing a row the delivery worker writes
to at the same time. Secrets stay out of the admin, even for operators."""

from typing import TYPE_CHECKING

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from ironclad.admin import ModelAdmin
from webhooks import services
from webhooks.models import Delivery, DeliveryAttempt, Event, Webhook

if TYPE_CHECKING:  # Django's admin classes take type arguments in django-stubs only, not at run time
    _AttemptInlineBase = admin.TabularInline[DeliveryAttempt, Delivery]
else:
    _AttemptInlineBase = admin.TabularInline

WEBHOOK_FIELDS = (
    "id",
    "user",
    "url",
    "event_types",
    "disabled_at",
    "disabled_reason",
    "failures",
    "failing_since",
    "retry_at",
    "last_success_at",
    "claim",
    "claimed_until",
    "previous_secret_until",
    "created_at",
    "updated_at",
)


class ReadOnlyAdmin(ModelAdmin):
    """Rows an operator reads, deletes, and changes only through the actions."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(Webhook)
class WebhookAdmin(ReadOnlyAdmin):
    list_display = ["id", "url", "user", "enabled", "failures", "last_success_at", "created_at"]
    list_filter = ["disabled_at", "created_at"]
    list_select_related = ["user"]
    search_fields = ["url", "user__email"]
    fields = readonly_fields = WEBHOOK_FIELDS
    date_hierarchy = "created_at"
    actions = ["disable", "enable"]

    @admin.display(boolean=True, description="enabled")
    def enabled(self, webhook: Webhook) -> bool:
        return webhook.disabled_at is None

    # Actions change rows the page cannot: they ask for the permission to delete, which operators
    # who may remove webhooks have.
    @admin.action(description="Disable the selected webhooks", permissions=["delete"])
    def disable(self, request: HttpRequest, queryset: QuerySet[Webhook]) -> None:
        for webhook in queryset:
            services.webhook_update(webhook=webhook, enabled=False)
        self.message_user(request, f"Disabled {len(queryset)} webhook(s).", messages.SUCCESS)

    @admin.action(description="Enable the selected webhooks again", permissions=["delete"])
    def enable(self, request: HttpRequest, queryset: QuerySet[Webhook]) -> None:
        for webhook in queryset:
            services.webhook_update(webhook=webhook, enabled=True)
        self.message_user(request, f"Enabled {len(queryset)} webhook(s).", messages.SUCCESS)


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = ["id", "type", "object_id", "user", "occurred_at"]
    list_filter = ["type", "occurred_at"]
    list_select_related = ["user"]
    search_fields = ["user__email", "=object_id"]
    fields = readonly_fields = ("id", "user", "type", "object_id", "occurred_at", "data")
    date_hierarchy = "occurred_at"


class AttemptInline(_AttemptInlineBase):
    model = DeliveryAttempt
    fields = readonly_fields = ("attempted_at", "duration_ms", "response_status", "response_body", "error")
    ordering = ["id"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Delivery | None = None) -> bool:
        return False


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["id", "webhook", "event_type", "status", "attempts", "created_at", "finished_at"]
    list_filter = ["status", "created_at"]
    list_select_related = ["webhook", "event"]
    search_fields = ["webhook__url", "webhook__user__email"]
    fields = readonly_fields = ("id", "webhook", "event", "status", "attempts", "created_at", "finished_at")
    date_hierarchy = "created_at"
    inlines = [AttemptInline]
    actions = ["redeliver"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Delivery]:
        return super().get_queryset(request).defer("event__data")

    @admin.display(description="event")
    def event_type(self, delivery: Delivery) -> str:
        return delivery.event.type

    @admin.action(description="Send the selected deliveries' events again", permissions=["delete"])
    def redeliver(self, request: HttpRequest, queryset: QuerySet[Delivery]) -> None:
        for delivery in queryset.select_related("webhook"):
            services.delivery_redeliver(webhook=delivery.webhook, delivery_id=delivery.pk)
        self.message_user(request, f"Sending {len(queryset)} event(s) again.", messages.SUCCESS)
