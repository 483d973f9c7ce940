"""What a delivery sends: the Standard Webhooks payload of an event, and the headers that sign it.

The payload is `{"type", "timestamp", "data"}`: `data` is the task or category as the REST API shows
it, as the event left it (webhooks.models.Event.data holds its columns). The headers are
`webhook-id` (the event's: the same on every attempt and redelivery, for receivers to drop
repeats), `webhook-timestamp` (the attempt's) and `webhook-signature`, made by the
`standardwebhooks` library: one `v1,<signature>` per secret in use (two while a rotated one lasts).
"""

from datetime import datetime
from typing import Any

import orjson
from django.db import models
from standardwebhooks.webhooks import Webhook as Signer

from ironclad import __version__
from todos.models import Category, Task
from todos.serializers import CategorySerializer, TaskSerializer, iso_timestamp
from webhooks.models import Event, Webhook

USER_AGENT = f"Ironclad-Webhooks/{__version__}"
RENDERED_BY = {"task": (Task, TaskSerializer), "category": (Category, CategorySerializer)}


def webhook_id(event: Event) -> str:
    return f"evt_{event.pk}"


def payload(event: Event) -> bytes:
    return orjson.dumps(
        {"type": event.type, "timestamp": iso_timestamp(event.occurred_at), "data": data_of(event)}
    )


def data_of(event: Event) -> dict[str, Any]:
    kind = event.type.split(".", 1)[0]
    model, serializer = RENDERED_BY[kind]
    return serializer().to_representation(from_columns(model, event.data))


def from_columns[M: models.Model](model: type[M], columns: dict[str, Any]) -> M:
    """An unsaved instance of `model` from a row's columns by name, as JSON holds them (timestamps
    as text, SQLite's booleans as numbers); a column missing takes its field's default."""
    values = {}
    for field in model._meta.concrete_fields:
        if field.column in columns:
            value = columns[field.column]
            values[field.attname] = value if isinstance(field, models.JSONField) else field.to_python(value)
        else:
            values[field.attname] = field.get_default()
    return model(**values)


def row_columns(instance: models.Model) -> dict[str, Any]:
    """An instance's columns by name, as JSON: what the triggers record of a row (Event.data)."""
    columns: dict[str, Any] = orjson.loads(
        orjson.dumps(
            {field.column: getattr(instance, field.attname) for field in type(instance)._meta.concrete_fields}
        )
    )
    return columns


def signed_headers(webhook: Webhook, event: Event, body: bytes, *, at: datetime) -> dict[str, str]:
    """The Standard Webhooks headers of `body` sent at `at`, signed with each secret in use."""
    message_id = webhook_id(event)
    secrets = [webhook.secret]
    if webhook.previous_secret and webhook.previous_secret_until and webhook.previous_secret_until > at:
        secrets.append(webhook.previous_secret)
    signatures = [Signer(secret).sign(message_id, at, body) for secret in secrets]
    return {
        "user-agent": USER_AGENT,
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
    }
