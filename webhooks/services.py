"""Every write to webhooks and their deliveries that a user makes (the REST API), and the purge of old
history (`manage.py upkeep`).

The delivery worker (webhooks.delivery) writes to the same rows at the same time: a webhook's
failures, retry_at, claim and claimed_until, its deliveries' status. So a write here changes only
the columns it means to change (save(update_fields=...) or update()), never a whole row read
earlier, and takes its locks in the worker's order: the webhook's row first (FOR NO KEY UPDATE,
which deliveries being inserted for it do not wait for), then its deliveries.
"""

import base64
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import User
from accounts.quotas import ensure_room
from ironclad.transactions import atomic_with_retries
from webhooks.models import Delivery, DeliveryStatus, EventType, Webhook
from webhooks.selectors import history_cutoff, old_deliveries, old_events, old_task_results

# What an event_types list may name besides the event types themselves: each stands for the types
# that begin with its prefix, and is stored as them.
EVENT_TYPE_WILDCARDS = {"*": "", "task.*": "task.", "category.*": "category."}
DISABLED_BY_OWNER = "Disabled by its owner."


def expand_event_types(names: Iterable[str]) -> list[str]:
    """The event types `names` stand for (wildcards expanded), each once, sorted. ValueError for a
    name that is neither an event type nor a wildcard."""
    expanded: set[str] = set()
    for name in names:
        if name in EVENT_TYPE_WILDCARDS:
            expanded |= {value for value in EventType.values if value.startswith(EVENT_TYPE_WILDCARDS[name])}
        elif name in EventType.values:
            expanded.add(name)
        else:
            raise ValueError(f"{name!r} is not an event type")
    return sorted(expanded)


def new_secret() -> str:
    """A signing secret as Standard Webhooks writes one: "whsec_" and base64 of 32 random bytes."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode("ascii")


def _locked(webhook: Webhook) -> Webhook:
    """The webhook read again, locked FOR NO KEY UPDATE; Webhook.DoesNotExist when it is gone."""
    return Webhook.objects.select_for_update(no_key=True).get(pk=webhook.pk)


@atomic_with_retries
def webhook_create(*, user: User, url: str, event_types: Iterable[str]) -> Webhook:
    webhook = Webhook.objects.create(
        user=user, url=url, event_types=expand_event_types(event_types), secret=new_secret()
    )
    ensure_room(user.pk, "webhooks", Webhook.objects.for_user(user), adding=0)
    return webhook


@atomic_with_retries
def webhook_update(
    *,
    webhook: Webhook,
    url: str | None = None,
    event_types: Iterable[str] | None = None,
    enabled: bool | None = None,
) -> Webhook:
    """Change what is given. Enabling a disabled webhook starts it afresh (no failures, no retry
    waited for); disabling an enabled one gives up its pending deliveries. Enabling an enabled
    webhook, or disabling a disabled one, changes nothing (a disabled one keeps its reason)."""
    webhook = _locked(webhook)
    changes: dict[str, Any] = {}
    if url is not None and url != webhook.url:
        # Failures were the old URL's: the new one is tried at once.
        changes |= {"url": url, "failures": 0, "failing_since": None, "retry_at": None}
    if event_types is not None:
        changes["event_types"] = expand_event_types(event_types)
    if enabled is True and webhook.disabled_at is not None:
        changes |= {
            "disabled_at": None,
            "disabled_reason": "",
            "failures": 0,
            "failing_since": None,
            "retry_at": None,
        }
    elif enabled is False and webhook.disabled_at is None:
        disable(webhook.pk, DISABLED_BY_OWNER)
        webhook.refresh_from_db(fields=["disabled_at", "disabled_reason", "updated_at"])
    if changes:
        for name, value in changes.items():
            setattr(webhook, name, value)
        webhook.save(update_fields=[*changes, "updated_at"])
    return webhook


def disable(webhook_id: int, reason: str) -> None:
    """Disable the webhook (locked, in the caller's transaction) and give up its pending deliveries:
    enabled again, it starts afresh with the events from then on, and what was given up stays in
    its deliveries, to be redelivered one by one. (The triggers do the same in SQL for a full
    backlog: webhooks/migrations/0002.)"""
    now = timezone.now()
    Webhook.objects.filter(pk=webhook_id).update(disabled_at=now, disabled_reason=reason, updated_at=now)
    Delivery.objects.filter(webhook_id=webhook_id, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.FAILED, finished_at=now
    )


@atomic_with_retries
def webhook_rotate_secret(*, webhook: Webhook) -> Webhook:
    """A new secret; the one it replaces still signs, beside it, for WEBHOOK_PREVIOUS_SECRET_HOURS
    (a secret rotated before then is dropped: two at most sign)."""
    webhook = _locked(webhook)
    webhook.previous_secret = webhook.secret
    webhook.previous_secret_until = timezone.now() + timedelta(hours=settings.WEBHOOK_PREVIOUS_SECRET_HOURS)
    webhook.secret = new_secret()
    webhook.save(update_fields=["secret", "previous_secret", "previous_secret_until", "updated_at"])
    return webhook


@atomic_with_retries
def webhook_delete(*, webhook: Webhook) -> None:
    """Delete a webhook and its deliveries (ON DELETE CASCADE, in the database: the webhook's row
    is locked first, then its deliveries). Its events stay until upkeep purges them."""
    deleted, _ = Webhook.objects.filter(pk=webhook.pk).delete()
    if not deleted:
        raise Webhook.DoesNotExist("the webhook was deleted by a concurrent request")


@atomic_with_retries
def delivery_redeliver(*, webhook: Webhook, delivery_id: int) -> Delivery:
    """A new pending delivery of the event of the webhook's delivery `delivery_id`, whatever became
    of that one; the worker sends it after the deliveries pending before it. Delivery.DoesNotExist
    when the webhook has no such delivery."""
    webhook = _locked(webhook)
    original = (
        Delivery.objects.filter(webhook=webhook)
        .select_related("event")
        .defer("event__data")
        .get(pk=delivery_id)
    )
    return Delivery.objects.create(webhook=webhook, event=original.event, created_at=timezone.now())


# --- History ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class History:
    """How many of each: old deliveries and events, and background tasks' results."""

    deliveries: int
    events: int
    task_results: int


def history_to_purge() -> History:
    """What `purge_history` would delete now."""
    cutoff = history_cutoff()
    return History(
        deliveries=old_deliveries(cutoff).count(),
        events=old_events(cutoff).count(),
        task_results=old_task_results(cutoff).count(),
    )


def purge_history() -> History:
    """Delete what is older than WEBHOOK_HISTORY_DAYS: deliveries that finished before then (with
    their attempts), then the events from before then that no delivery is left of, and background
    tasks' results that finished before then. Returns how many of each were deleted."""
    cutoff = history_cutoff()
    return History(
        deliveries=_deleted(old_deliveries(cutoff)),
        events=_deleted(old_events(cutoff)),
        task_results=_deleted(old_task_results(cutoff)),
    )


def _deleted(rows: models.QuerySet[Any]) -> int:
    """Delete `rows`; how many of them (not of the rows the database cascaded to) were deleted."""
    _total, by_model = rows.delete()
    return by_model.get(rows.model._meta.label, 0)
