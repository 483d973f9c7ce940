"""The worker's scheduler: every WORKER_POLL_SECONDS it records the reminders that are due and hands
each webhook with deliveries waiting to the tasks framework (one `send_webhook_deliveries` task).

Handing over is a claim: the webhook's `claim` and `claimed_until`, set in the transaction that
enqueues the task, so that one task at a time sends a webhook's deliveries, in order, whichever
worker runs it and however many schedulers look at once. A task that never runs or never finishes
(its worker was killed) leaves a claim that lapses; the webhook is then handed over again, and its
pending deliveries are sent again. A user has one webhook handed over at a time: however slow their
receivers, they hold up one of the worker's threads, never the other users'.
"""

import logging
import secrets
import threading
import time
from datetime import datetime, timedelta

from django.db import close_old_connections, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from accounts.quotas import hold_account
from webhooks import reminders
from webhooks.delivery import claim_seconds
from webhooks.models import Delivery, DeliveryStatus, Webhook
from webhooks.tasks import send_webhook_deliveries

logger = logging.getLogger("ironclad.worker")

# Webhooks handed over per look, at most.
BATCH = 100
# The class of the advisory lock that one user's hand-overs take turns on (accounts.quotas).
HANDING_OVER_LOCK = 0x1C1C
# Reminders are looked for since the last look (and this much before it); all those not more than
# REMINDER_LATE_HOURS late once a minute, for a reminder set for a time just past.
REMINDER_OVERLAP = timedelta(seconds=5)
FULL_REMINDER_LOOK_SECONDS = 60


def hand_over_due_webhooks(now: datetime | None = None) -> int:
    """Claim each webhook that has a pending delivery, is not waiting for a retry and is not
    claimed, one per user, and enqueue a task to send its deliveries. Returns how many."""
    now = now or timezone.now()
    unclaimed = Q(claimed_until=None) | Q(claimed_until__lt=now)
    pending = Delivery.objects.filter(webhook=OuterRef("pk"), status=DeliveryStatus.PENDING)
    users_busy = Webhook.objects.filter(user=OuterRef("user"), claimed_until__gte=now)
    due = (
        Webhook.objects.filter(unclaimed, Q(retry_at=None) | Q(retry_at__lte=now), disabled_at=None)
        .filter(Exists(pending))
        .exclude(Exists(users_busy))
        .order_by("id")
        .values_list("pk", "user_id")[:BATCH]
    )
    handed_over = 0
    users: set[str] = set()
    for webhook_id, user_id in due:
        if user_id in users:
            continue
        users.add(user_id)
        claim = secrets.token_hex(16)
        with transaction.atomic():
            # Another scheduler may be handing over another of the user's webhooks at this moment:
            # one at a time looks and claims.
            hold_account(user_id, lock=HANDING_OVER_LOCK)
            claimed = (
                Webhook.objects.filter(unclaimed, pk=webhook_id, disabled_at=None)
                .exclude(Exists(users_busy.exclude(pk=webhook_id)))
                .update(claim=claim, claimed_until=now + timedelta(seconds=claim_seconds()))
            )
            if claimed:
                send_webhook_deliveries.enqueue(webhook_id, claim)
                handed_over += 1
    return handed_over


class Scheduler:
    """Looks for work every `poll` seconds until `stopping` is set."""

    def __init__(self, poll: float, stopping: threading.Event) -> None:
        self.poll = poll
        self.stopping = stopping
        self.last_look: datetime | None = None
        self.last_full_look = 0.0

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                try:
                    self.look()
                except Exception:  # the database is away, say: look again at the next tick
                    logger.exception("The scheduler's look for due work failed; trying again.")
                finally:
                    close_old_connections()
                self.stopping.wait(self.poll)
        finally:
            close_old_connections()

    def look(self) -> None:
        now = timezone.now()
        looking_back = None
        if self.last_look is not None and time.monotonic() - self.last_full_look < FULL_REMINDER_LOOK_SECONDS:
            looking_back = now - self.last_look + REMINDER_OVERLAP
        else:
            self.last_full_look = time.monotonic()
        reminders.fire_due(now=now, looking_back=looking_back)
        self.last_look = now
        hand_over_due_webhooks(now)
