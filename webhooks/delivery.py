"""Sending a webhook's pending deliveries: one at a time, oldest first, each signed, to an address
checked at that moment (webhooks.addresses).

At least once: a delivery stays pending until a 2xx answer has been recorded for it, so a worker that
dies while sending leaves it pending, and it is sent again once that worker's claim lapses.

A failure pauses the webhook (`retry_at`, by WEBHOOK_RETRY_SCHEDULE and its failures in a row); the
next try starts again from the oldest pending delivery, so the events arrive in order, and a
receiver that recovers gets all of them. A delivery is given up WEBHOOK_RETRY_HOURS after its
event; a webhook failing for WEBHOOK_DISABLE_AFTER_DAYS is disabled, and says why.

Locks: the webhook's row (FOR NO KEY UPDATE, which the triggers' inserts of deliveries never wait
for), then its deliveries; never held while a request is on its way.
"""

import contextlib
import logging
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx2
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from webhooks import addresses, services
from webhooks.models import Delivery, DeliveryAttempt, DeliveryStatus, Event, EventType, Webhook
from webhooks.payloads import payload, signed_headers

logger = logging.getLogger("ironclad.webhooks")

# What is kept of a response: enough to see why a receiver refused; more is not read at all.
RESPONSE_KEPT_CHARACTERS = 1000
RESPONSE_READ_BYTES = 64 * 1024
# A claim outlives the request it covers by this much: time to record the attempt.
CLAIM_MARGIN_SECONDS = 10
# One task sends for at most this long, then leaves the rest to the next: a webhook with a long
# queue takes turns with the others.
RUN_SECONDS = 60

# Set when the worker stops (SIGTERM): each task finishes the request it is sending, then leaves
# the rest to the next worker, at once (it gives its claim up).
stopping = threading.Event()


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    duration_ms: int
    status: int | None = None
    body: str = ""
    error: str = ""


def claim_seconds() -> float:
    return float(settings.WEBHOOK_TIMEOUT) + CLAIM_MARGIN_SECONDS


def send_pending(webhook_id: int, claim: str) -> int:
    """Send the webhook's pending deliveries, oldest first, while `claim` is the webhook's, until
    none is left, one fails, or RUN_SECONDS have passed. Returns how many were delivered."""
    delivered = 0
    stop_at = time.monotonic() + RUN_SECONDS
    try:
        while time.monotonic() < stop_at and not stopping.is_set():
            next_up = _next_delivery(webhook_id, claim)
            if next_up is None:
                return delivered
            webhook, delivery = next_up
            outcome = post(webhook, delivery)
            if not _record(webhook, delivery, claim, outcome):
                return delivered
            delivered += 1
        return delivered
    finally:
        release(webhook_id, claim)
        if delivered:
            trim_history(webhook_id)


def _next_delivery(webhook_id: int, claim: str) -> tuple[Webhook, Delivery] | None:
    """The oldest pending delivery, with the claim extended to cover sending it; None when there
    is none, the claim is not this one's any more, or the webhook waits for a retry."""
    while True:
        with transaction.atomic():
            now = timezone.now()
            webhook = _claimed(webhook_id, claim)
            if webhook is None or (webhook.retry_at is not None and webhook.retry_at > now):
                return None
            delivery = (
                Delivery.objects.filter(webhook_id=webhook_id, status=DeliveryStatus.PENDING)
                .select_related("event")
                .order_by("id")
                .first()
            )
            if delivery is None:
                return None
            if delivery.created_at < now - timedelta(hours=settings.WEBHOOK_RETRY_HOURS):
                _finish(delivery, DeliveryStatus.FAILED, now)  # given up; the next one's turn
                continue
            Webhook.objects.filter(pk=webhook_id).update(
                claimed_until=now + timedelta(seconds=claim_seconds())
            )
            return webhook, delivery


def _claimed(webhook_id: int, claim: str) -> Webhook | None:
    return (
        Webhook.objects.select_for_update(no_key=True)
        .filter(pk=webhook_id, claim=claim, disabled_at=None)
        .first()
    )


def _record(webhook: Webhook, delivery: Delivery, claim: str, outcome: Outcome) -> bool:
    """Record the attempt and its consequences; True when it was delivered."""
    with transaction.atomic():
        now = timezone.now()
        if _claimed(webhook.pk, claim) is None and not Webhook.objects.filter(pk=webhook.pk).exists():
            return False  # deleted while the request was on its way: its deliveries went with it
        current = Delivery.objects.select_for_update().filter(pk=delivery.pk).first()
        if current is None:
            return False
        DeliveryAttempt.objects.create(
            delivery=current,
            attempted_at=now - timedelta(milliseconds=outcome.duration_ms),
            duration_ms=outcome.duration_ms,
            response_status=outcome.status,
            response_body=outcome.body,
            error=outcome.error,
        )
        current.attempts += 1
        if outcome.delivered:
            current.status, current.finished_at = DeliveryStatus.DELIVERED, now
            Webhook.objects.filter(pk=webhook.pk).update(
                failures=0, failing_since=None, retry_at=None, last_success_at=now
            )
        current.save(update_fields=["attempts", "status", "finished_at"])
        if not outcome.delivered:
            _failed(webhook.pk, now, outcome)
    logger.info(
        "webhook %s delivery %s (%s): %s in %d ms",
        webhook.pk,
        delivery.pk,
        delivery.event.type,
        outcome.status or outcome.error,
        outcome.duration_ms,
    )
    return outcome.delivered


def _failed(webhook_id: int, now: datetime, outcome: Outcome) -> None:
    webhook = Webhook.objects.select_for_update(no_key=True).get(pk=webhook_id)
    failures = webhook.failures + 1
    failing_since = webhook.failing_since or now
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    changes = {
        "failures": failures,
        "failing_since": failing_since,
        "retry_at": now + timedelta(seconds=schedule[min(failures, len(schedule)) - 1]),
    }
    Webhook.objects.filter(pk=webhook_id).update(**changes)
    if now - failing_since >= timedelta(days=settings.WEBHOOK_DISABLE_AFTER_DAYS):
        reason = f"HTTP {outcome.status}" if outcome.status else outcome.error
        services.disable(
            webhook_id,
            f"Disabled after failing since {failing_since.isoformat(timespec='seconds')} "
            f"({failures} attempts; the last: {reason}). Enable it again once it answers.",
        )


def _finish(delivery: Delivery, status: str, now: datetime) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(status=status, finished_at=now)


def release(webhook_id: int, claim: str) -> None:
    """Give the webhook's claim up, if it is still this one: the next due run may start at once."""
    Webhook.objects.filter(pk=webhook_id, claim=claim).update(claim="", claimed_until=None)


def trim_history(webhook_id: int) -> None:
    """Keep the newest WEBHOOK_KEPT_DELIVERIES of the webhook's finished deliveries, and delete the
    others with the events no delivery refers to any more: what one webhook keeps is bounded
    however fast its events come. A reminder's event is kept while it could still be due: it is
    what says the reminder was sent."""
    finished = Delivery.objects.filter(webhook_id=webhook_id).exclude(status=DeliveryStatus.PENDING)
    kept = settings.WEBHOOK_KEPT_DELIVERIES
    oldest_kept = finished.order_by("-id").values_list("id", flat=True)[kept - 1 : kept].first()
    if oldest_kept is None:
        return
    with transaction.atomic():
        old = finished.filter(id__lt=oldest_kept)
        events = set(old.values_list("event_id", flat=True))
        old.delete()
        reminder_due_lately = Q(
            type=EventType.TASK_REMINDER,
            occurred_at__gt=timezone.now() - timedelta(hours=settings.REMINDER_LATE_HOURS),
        )
        Event.objects.filter(pk__in=events).exclude(reminder_due_lately).exclude(
            Exists(Delivery.objects.filter(event=OuterRef("pk")))
        ).delete()


# --- The request ------------------------------------------------------------------------------

_clients = threading.local()


def _client() -> httpx2.Client:
    """This thread's HTTP client: its TLS context is made once. It never follows redirects (a
    redirect could lead anywhere), ignores proxy settings (a proxy would reach the address instead
    of the one checked), and keeps no connection open: one is reached by address, and would be
    taken again for another host at that address, whose certificate it never checked."""
    client = getattr(_clients, "client", None)
    if client is None:
        client = _clients.client = httpx2.Client(
            follow_redirects=False, trust_env=False, limits=httpx2.Limits(max_keepalive_connections=0)
        )
    return client


def post(webhook: Webhook, delivery: Delivery) -> Outcome:
    """Send one delivery, within WEBHOOK_TIMEOUT, to an address of the URL's host checked now."""
    started = time.monotonic()
    deadline = started + settings.WEBHOOK_TIMEOUT
    body = payload(delivery.event)
    headers = signed_headers(webhook, delivery.event, body, at=timezone.now())

    def elapsed() -> int:
        return round((time.monotonic() - started) * 1000)

    try:
        address = addresses.public_addresses(webhook.url)[0]
    except addresses.AddressRefused as refused:
        return Outcome(False, elapsed(), error=str(refused))
    parts = urlsplit(webhook.url)
    host = parts.hostname or ""
    # The request goes to the address checked; the host's name is still what the server sees
    # (Host) and what its certificate is checked against (SNI).
    literal = f"[{address}]" if address.version == 6 else str(address)
    target = urlunsplit(parts._replace(netloc=f"{literal}:{parts.port}" if parts.port else literal))
    headers["host"] = parts.netloc.rsplit("@", 1)[-1]
    too_late = f"no answer within {settings.WEBHOOK_TIMEOUT:g} s"
    with _Deadline(deadline - time.monotonic()) as cut_off:
        try:
            with _client().stream(
                "POST",
                target,
                content=body,
                headers=headers,
                timeout=httpx2.Timeout(settings.WEBHOOK_TIMEOUT),
                extensions={"sni_hostname": host, "trace": cut_off.trace},
            ) as response:
                read = bytearray()
                for chunk in response.iter_bytes():
                    read += chunk
                    if len(read) >= RESPONSE_READ_BYTES:
                        break
                text = bytes(read[:RESPONSE_READ_BYTES]).decode("utf-8", "replace")
                return Outcome(
                    200 <= response.status_code < 300,
                    elapsed(),
                    response.status_code,
                    text[:RESPONSE_KEPT_CHARACTERS],
                )
        except httpx2.TimeoutException:
            return Outcome(False, elapsed(), error=too_late)
        except httpx2.HTTPError as error:
            return Outcome(False, elapsed(), error=too_late if cut_off.passed else _described(error))


class _Deadline:
    """Cuts a request's connection at its deadline. httpx's timeouts bound each step (connecting,
    each read) but not their sum: a receiver that answers a byte at a time would hold the worker's
    thread, and outlast its claim, for as long as it likes. The connection's socket is taken from
    httpx's trace of the request, and shut down by a timer; reads then fail at once."""

    def __init__(self, seconds: float) -> None:
        self.timer = threading.Timer(max(seconds, 0.0), self._cut)
        self.timer.daemon = True
        self.lock = threading.Lock()
        self.socket: socket.socket | None = None
        self.passed = False

    def __enter__(self) -> "_Deadline":
        self.timer.start()
        return self

    def __exit__(self, *exception: object) -> None:
        self.timer.cancel()

    def trace(self, event: str, info: dict[str, Any]) -> None:
        if event == "connection.connect_tcp.complete":
            with self.lock:
                self.socket = info["return_value"].get_extra_info("socket")
                if self.passed:
                    self._shut()

    def _cut(self) -> None:
        with self.lock:
            self.passed = True
            self._shut()

    def _shut(self) -> None:
        if self.socket is not None:
            with contextlib.suppress(OSError):  # closed already
                self.socket.shutdown(socket.SHUT_RDWR)


def _described(error: httpx2.HTTPError) -> str:
    text = str(error) or type(error).__name__
    return text[:RESPONSE_KEPT_CHARACTERS]
