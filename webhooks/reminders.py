"""Reminders: at a task's `remind_at`, a `task.reminder` event for the user's webhooks that want it.

The worker's scheduler looks for reminders due every WORKER_POLL_SECONDS (`fire_due`), of the users
who have a webhook that wants them. A completed task's reminder is not sent (completing cancels it;
so does deleting the task); nor is one found more than REMINDER_LATE_HOURS late (the worker was
stopped). Each is recorded once for the time it was set for (a unique index on the event), however
many workers look at once; a task given a new time is reminded again at that time.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from todos.models import Task
from webhooks import services
from webhooks.models import BACKLOG_FULL, BACKLOG_MAX, Delivery, DeliveryStatus, Event, EventType, Webhook
from webhooks.payloads import row_columns

# Reminders fired per look: more wait for the next one, a second later.
BATCH = 500


def fire_due(*, now: datetime | None = None, looking_back: timedelta | None = None) -> int:
    """Record the reminders due at `now` and not recorded yet, set for at most `looking_back`
    before it (at most REMINDER_LATE_HOURS). Returns how many were recorded."""
    now = now or timezone.now()
    late = timedelta(hours=settings.REMINDER_LATE_HOURS)
    earliest = now - min(late, looking_back or late)
    wanting = _users_wanting_reminders()
    if not wanting:
        return 0
    sent = Event.objects.filter(
        type=EventType.TASK_REMINDER, object_id=OuterRef("pk"), occurred_at=OuterRef("remind_at")
    )
    due = (
        Task.objects.filter(remind_at__lte=now, remind_at__gt=earliest, completed=False, user_id__in=wanting)
        .exclude(Exists(sent))
        .order_by("remind_at", "id")[:BATCH]
    )
    return sum(_fire(task) for task in due)


def _fire(task: Task) -> bool:
    with transaction.atomic():
        _hold_changes_of(task.user_id)
        # Read again under the lock: completed, deleted or moved to another time since.
        current = Task.objects.filter(pk=task.pk, completed=False, remind_at=task.remind_at).first()
        if current is None or current.remind_at is None:
            return False
        try:
            with transaction.atomic():
                event = Event.objects.create(
                    user_id=current.user_id,
                    type=EventType.TASK_REMINDER,
                    object_id=current.pk,
                    data=row_columns(current),
                    occurred_at=current.remind_at,
                )
        except IntegrityError:  # another worker recorded it first
            return False
        now = timezone.now()
        # Locked, as the triggers lock them: one being deleted is waited for, then left out.
        mine = Webhook.objects.filter(user_id=current.user_id).order_by("id").select_for_update(no_key=True)
        for webhook in _wanting(mine):
            if Delivery.objects.filter(webhook=webhook, status=DeliveryStatus.PENDING)[
                BACKLOG_MAX - 1 :
            ].exists():
                services.disable(webhook.pk, BACKLOG_FULL)
            else:
                Delivery.objects.create(webhook=webhook, event=event, created_at=now)
    return True


def _users_wanting_reminders() -> set[str]:
    return {webhook.user_id for webhook in _wanting(Webhook.objects.only("user_id", "event_types"))}


def _wanting(webhooks: "QuerySet[Webhook]") -> list[Webhook]:
    """The enabled ones of `webhooks` that want reminders. (Read in Python: SQLite has no JSON
    containment; enabled webhooks are few, at most QUOTA_WEBHOOKS a user.)"""
    return [
        webhook
        for webhook in webhooks.filter(disabled_at=None)
        if EventType.TASK_REMINDER in webhook.event_types
    ]


def _hold_changes_of(user_id: str) -> None:
    """Take the user's change counter, as the triggers recording their other events do at the
    commit: the user's events are then numbered in the order they commit (webhooks/migrations/0002)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute('SELECT 1 FROM "change_sequence" WHERE "userId" = %s FOR UPDATE', [user_id])
