"""Reads of webhooks and their deliveries, for the REST API, and of the history `manage.py upkeep`
deletes. Every read of a user's webhooks starts from `Webhook.objects.for_user`: another user's
webhook, and its deliveries, are a 404 by construction."""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from accounts.models import User
from webhooks.models import Delivery, DeliveryAttempt, DeliveryStatus, Event, Webhook


def webhooks_of(user: User) -> QuerySet[Webhook]:
    """The user's webhooks, oldest first."""
    return Webhook.objects.for_user(user).order_by("id")


def deliveries_of(webhook: Webhook, *, status: str | None = None) -> QuerySet[Delivery]:
    """A webhook's deliveries, newest first, each with its event (without its data, which the
    list does not show) and its attempts, oldest first, in one query more for a whole page."""
    deliveries = Delivery.objects.filter(webhook=webhook)
    if status is not None:
        deliveries = deliveries.filter(status=status)
    return (
        deliveries.select_related("event")
        .defer("event__data")
        .prefetch_related(Prefetch("attempt_set", queryset=DeliveryAttempt.objects.order_by("id")))
        .order_by("-id")
    )


# --- History that `manage.py upkeep` deletes --------------------------------------------------


def history_cutoff() -> datetime:
    return timezone.now() - timedelta(days=settings.WEBHOOK_HISTORY_DAYS)


def old_deliveries(cutoff: datetime) -> QuerySet[Delivery]:
    """Deliveries that finished (delivered or given up) before `cutoff`."""
    finished = (DeliveryStatus.DELIVERED, DeliveryStatus.FAILED)
    return Delivery.objects.filter(status__in=finished, finished_at__lt=cutoff)


def old_events(cutoff: datetime) -> QuerySet[Event]:
    """Events from before `cutoff` with no delivery but those that finished before it too: one still
    pending, or one that finished since (a redelivery), keeps its event, which the API shows with it."""
    kept = Delivery.objects.filter(event=OuterRef("pk")).filter(
        Q(status=DeliveryStatus.PENDING) | Q(finished_at__isnull=True) | Q(finished_at__gte=cutoff)
    )
    return Event.objects.filter(occurred_at__lt=cutoff).filter(~Exists(kept))


def old_task_results(cutoff: datetime) -> QuerySet[DBTaskResult[..., Any]]:
    """Background tasks' results (django-tasks-db) that finished before `cutoff`, successful or
    failed (the query of its `prune_db_task_results`, for every queue), and those still marked
    running since before it: their worker was killed (no task of Ironclad's runs for more than a
    few minutes), and what they were doing was handed over again (webhooks.scheduler)."""
    return DBTaskResult.objects.filter(
        Q(pk__in=DBTaskResult.objects.finished().filter(finished_at__lt=cutoff).values("pk"))
        | Q(pk__in=DBTaskResult.objects.running().filter(started_at__lt=cutoff).values("pk"))
    )
