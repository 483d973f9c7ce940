"""Validation of webhook requests and the representation of webhooks and their deliveries. Writes go
through webhooks.services."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ironclad.serializers import ModelSerializer, Serializer
from ironclad.untrusted import clip
from todos.serializers import LenientChoiceField
from webhooks.addresses import URL_MAX_LENGTH, refusal_of
from webhooks.models import Delivery, DeliveryAttempt, DeliveryStatus, Event, EventType, Webhook
from webhooks.payloads import webhook_id
from webhooks.services import EVENT_TYPE_WILDCARDS

# More than enough for every type and wildcard, each named more than once.
EVENT_TYPES_MAX_GIVEN = 50


@extend_schema_field(
    {
        "type": "string",
        "minLength": 1,
        "maxLength": URL_MAX_LENGTH,
        "example": "https://example.com/hooks/ironclad",
    }
)
class WebhookUrlField(serializers.CharField):
    """Where a webhook's events go: an https URL of a public host (refusal_of says why not)."""

    def __init__(self, **kwargs) -> None:
        kwargs.setdefault(
            "help_text",
            "An https:// URL of a public host, without user name, password or #fragment: not "
            "localhost, nor a private, loopback or link-local address.",
        )
        super().__init__(max_length=URL_MAX_LENGTH, **kwargs)

    def to_internal_value(self, data) -> str:
        url = super().to_internal_value(data)
        if (refusal := refusal_of(url)) is not None:
            raise serializers.ValidationError(refusal)
        return url


# The anyOf hides this list from drf-spectacular's enum components: EventTypeEnum is the event types
# alone, as webhooks show them.
@extend_schema_field(
    {
        "anyOf": [
            {"type": "string", "enum": EventType.values, "description": "An event type."},
            {
                "type": "string",
                "enum": list(EVENT_TYPE_WILDCARDS),
                "description": "Every event type that begins so: `*` for all.",
            },
        ]
    }
)
class EventTypeNameField(serializers.ChoiceField):
    default_error_messages = {
        "invalid_choice": '"{input}" is not an event type: use '
        + ", ".join([*EventType.values, *EVENT_TYPE_WILDCARDS])
        + "."
    }

    def __init__(self, **kwargs) -> None:
        super().__init__(choices=[*EventType.values, *EVENT_TYPE_WILDCARDS], **kwargs)

    def to_internal_value(self, data) -> str:
        if str(data) not in self.choice_strings_to_values:
            self.fail("invalid_choice", input=clip(data))
        return super().to_internal_value(data)


def event_types_field(**kwargs) -> serializers.ListField:
    return serializers.ListField(
        child=EventTypeNameField(),
        min_length=1,
        max_length=EVENT_TYPES_MAX_GIVEN,
        help_text="The event types to send: at least one. `task.*`, `category.*` and `*` stand for "
        "the types they match, and are stored as them; each type is kept once, sorted.",
        **kwargs,
    )


class WebhookCreateSerializer(Serializer):
    url = WebhookUrlField()
    event_types = event_types_field()


class WebhookUpdateSerializer(Serializer):
    url = WebhookUrlField(required=False)
    event_types = event_types_field(required=False)
    enabled = serializers.BooleanField(
        required=False,
        help_text="true enables it again, afresh (no failures counted, no retry waited for); false "
        "disables it and gives up its pending deliveries.",
    )


class WebhookSerializer(ModelSerializer):
    url = WebhookUrlField(read_only=True, help_text="Where its events go.")
    event_types = serializers.ListField(
        child=serializers.ChoiceField(choices=EventType.choices),
        read_only=True,
        help_text="The event types it receives, sorted.",
    )
    enabled = serializers.SerializerMethodField(
        help_text="false once disabled: by you, or after failing for WEBHOOK_DISABLE_AFTER_DAYS on end "
        "(`disabled_reason` says which). Nothing is recorded or sent for it until it is enabled again."
    )

    class Meta:
        model = Webhook
        fields = [
            "id",
            "url",
            "event_types",
            "enabled",
            "disabled_at",
            "disabled_reason",
            "failures",
            "failing_since",
            "retry_at",
            "last_success_at",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
        extra_kwargs = {
            "failures": {"help_text": "Failed attempts since the last success."},
            "failing_since": {"help_text": "When the first of those failures was."},
            "retry_at": {"help_text": "After a failure, the next attempt is not before this."},
        }

    def get_enabled(self, webhook: Webhook) -> bool:
        return webhook.disabled_at is None


@extend_schema_field({"type": "string", "example": "whsec_baubQVJ6BD33WekRCJXZTOjMiSwj2vxleXdDQKUlR8Y="})
class SecretField(serializers.CharField):
    pass


class WebhookWithSecretSerializer(WebhookSerializer):
    secret = SecretField(
        read_only=True,
        help_text="What it signs with (Standard Webhooks: the webhook-signature header). Shown only "
        "here, on creation and rotation: keep it.",
    )

    class Meta(WebhookSerializer.Meta):
        fields = [*WebhookSerializer.Meta.fields, "secret", "previous_secret_until"]
        read_only_fields = fields
        extra_kwargs = {
            **WebhookSerializer.Meta.extra_kwargs,
            "previous_secret_until": {
                "help_text": "After a rotation, the secret before it signs too, beside this one, "
                "until then; null when no other secret signs."
            },
        }


class EventSummarySerializer(serializers.Serializer):
    id = serializers.SerializerMethodField(help_text="The webhook-id header: the same on every attempt.")
    type = serializers.ChoiceField(choices=EventType.choices, read_only=True)
    occurred_at = serializers.DateTimeField(read_only=True)

    def get_id(self, event: Event) -> str:
        return webhook_id(event)


class DeliveryAttemptSerializer(ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["attempted_at", "duration_ms", "response_status", "response_body", "error"]
        read_only_fields = fields
        extra_kwargs = {
            "response_status": {"help_text": "The response's status; null when there was none."},
            "response_body": {"help_text": "The start of the response's body."},
            "error": {"help_text": "Why there was no response (a timeout, a refused address...), or empty."},
        }


class DeliverySerializer(ModelSerializer):
    event = EventSummarySerializer(read_only=True)
    attempt_log = DeliveryAttemptSerializer(
        source="attempt_set", many=True, read_only=True, help_text="Its attempts, oldest first."
    )

    class Meta:
        model = Delivery
        fields = ["id", "event", "status", "attempts", "created_at", "finished_at", "attempt_log"]
        read_only_fields = fields
        extra_kwargs = {
            "status": {
                "help_text": "pending: on its way; delivered: a 2xx answered it; failed: given up "
                "(retried for WEBHOOK_RETRY_HOURS, or its webhook was disabled)."
            },
            "attempts": {"help_text": "How many requests were sent for it."},
            "finished_at": {"help_text": "When it was delivered or given up; null while pending."},
        }


class DeliveryListParams(serializers.Serializer):
    """The query parameters of a webhook's deliveries."""

    status = LenientChoiceField(choices=DeliveryStatus.choices, required=False, help_text="Only these.")
