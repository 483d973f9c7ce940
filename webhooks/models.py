"""Webhooks: where a user's events go (Webhook), the events (Event), and each event's delivery to
each webhook that wants it (Delivery), with every attempt (DeliveryAttempt). Tables and columns:
docs/database.md.

Events and deliveries are written in the transaction of the change they tell of, by triggers on
`task` and `category` (webhooks/migrations/0001), whoever makes the change; reminders are recorded
by the worker (webhooks.reminders). Nothing is recorded for a user with no webhook that wants it.
"""

from django.db import models

from accounts.models import OwnedQuerySet, User

# Deliveries one webhook may have waiting: past it, the webhook is disabled rather than given more,
# so that a receiver that is down or slow costs a bounded amount of storage.
BACKLOG_MAX = 1000
BACKLOG_FULL = (
    f"Disabled: {BACKLOG_MAX:,} deliveries were waiting, as many as a webhook may have. "
    "Enable it again once its receiver keeps up."
)


class EventType(models.TextChoices):
    TASK_CREATED = "task.created"
    TASK_UPDATED = "task.updated"
    TASK_COMPLETED = "task.completed"
    TASK_DELETED = "task.deleted"
    TASK_REMINDER = "task.reminder"
    CATEGORY_CREATED = "category.created"
    CATEGORY_UPDATED = "category.updated"
    CATEGORY_DELETED = "category.deleted"


class Webhook(models.Model):
    """A URL of the user's that receives the events of the types it names, signed with `secret`
    (Standard Webhooks). Deliveries to it go one at a time, oldest first (webhooks.delivery)."""

    user = models.ForeignKey(
        User,
        on_delete=models.DB_CASCADE,
        db_column="userId",
        related_name="+",
        # The (userId, id) index below leads with userId.
        db_index=False,
    )
    url = models.TextField()
    # Event types (EventType values), each at most once.
    event_types = models.JSONField(db_column="eventTypes", default=list)
    # "whsec_" and base64 of random bytes: what Standard Webhooks receivers are configured with.
    secret = models.TextField()
    # The secret before the last rotation, still signed with (beside the new one) until
    # previous_secret_until, so that receivers can change over without losing an event.
    previous_secret = models.TextField(db_column="previousSecret", default="", blank=True)
    previous_secret_until = models.DateTimeField(db_column="previousSecretUntil", null=True, blank=True)
    created_at = models.DateTimeField(db_column="createdAt", auto_now_add=True)
    updated_at = models.DateTimeField(db_column="updatedAt", auto_now=True)

    # Set when it has failed for WEBHOOK_DISABLE_AFTER_DAYS on end (or by its user): no event is
    # recorded for it, nothing is sent, until its user enables it again.
    disabled_at = models.DateTimeField(db_column="disabledAt", null=True, blank=True)
    disabled_reason = models.TextField(db_column="disabledReason", default="", blank=True)
    # Failed attempts since the last success, and when the first of them was.
    failures = models.PositiveIntegerField(default=0)
    failing_since = models.DateTimeField(db_column="failingSince", null=True, blank=True)
    # After a failure, no attempt before this (the retry schedule).
    retry_at = models.DateTimeField(db_column="retryAt", null=True, blank=True)
    # The worker's claim: one task at a time sends its deliveries, until claimed_until; then
    # (the worker died) the claim lapses and another takes it over.
    claim = models.TextField(default="", blank=True)
    claimed_until = models.DateTimeField(db_column="claimedUntil", null=True, blank=True)
    last_success_at = models.DateTimeField(db_column="lastSuccessAt", null=True, blank=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        db_table = "webhook"
        ordering = ["id"]
        indexes = [models.Index(fields=["user", "id"], name="webhook_user")]

    def __str__(self) -> str:
        return self.url


class Event(models.Model):
    """Something that happened to one of a user's tasks or categories. `data` is the row as it was
    (its columns, by column name), rendered as the API shows it when it is sent (webhooks.payloads).
    """

    id = models.BigAutoField(primary_key=True)
    user = models.ForeignKey(
        User, on_delete=models.DB_CASCADE, db_column="userId", related_name="+", db_index=False
    )
    type = models.TextField(choices=EventType.choices)
    object_id = models.BigIntegerField(db_column="objectId")
    data = models.JSONField()
    # When it happened; for a reminder, the time it was set for.
    occurred_at = models.DateTimeField(db_column="occurredAt")

    class Meta:
        db_table = "webhook_event"
        indexes = [models.Index(fields=["occurred_at"], name="webhook_event_occurred")]
        constraints = [
            # A reminder is sent once for the time it was set for, however many workers look.
            models.UniqueConstraint(
                "object_id",
                "occurred_at",
                condition=models.Q(type=EventType.TASK_REMINDER),
                name="webhook_event_reminder_once",
            )
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.object_id} (#{self.pk})"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # given up: retried for WEBHOOK_RETRY_HOURS, or its webhook was disabled


class Delivery(models.Model):
    """One event on its way to one webhook. A redelivery is a new Delivery of the same event."""

    id = models.BigAutoField(primary_key=True)
    webhook = models.ForeignKey(
        Webhook, on_delete=models.DB_CASCADE, db_column="webhookId", related_name="deliveries", db_index=False
    )
    event = models.ForeignKey(Event, on_delete=models.DB_CASCADE, db_column="eventId", related_name="+")
    status = models.TextField(choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(db_column="createdAt")
    finished_at = models.DateTimeField(db_column="finishedAt", null=True, blank=True)

    class Meta:
        db_table = "webhook_delivery"
        indexes = [
            # A webhook's deliveries, newest first (the API), and its pending ones, oldest first.
            models.Index(fields=["webhook", "id"], name="webhook_delivery_webhook"),
            models.Index(
                fields=["webhook", "id"],
                condition=models.Q(status=DeliveryStatus.PENDING),
                name="webhook_delivery_pending",
            ),
            models.Index(fields=["created_at"], name="webhook_delivery_created"),
        ]

    def __str__(self) -> str:
        return f"delivery {self.pk} of event {self.event_id} ({self.status})"


class DeliveryAttempt(models.Model):
    """One request sent for a delivery, and how it ended: the response's status and the start of
    its body, or why there was none (`error`)."""

    id = models.BigAutoField(primary_key=True)
    delivery = models.ForeignKey(
        Delivery, on_delete=models.DB_CASCADE, db_column="deliveryId", related_name="attempt_set"
    )
    attempted_at = models.DateTimeField(db_column="attemptedAt")
    duration_ms = models.PositiveIntegerField(db_column="durationMs")
    response_status = models.PositiveSmallIntegerField(db_column="responseStatus", null=True, blank=True)
    response_body = models.TextField(db_column="responseBody", default="", blank=True)
    error = models.TextField(default="", blank=True)

    class Meta:
        db_table = "webhook_delivery_attempt"
        ordering = ["id"]

    def __str__(self) -> str:
        return f"attempt {self.pk}: {self.response_status or self.error}"
