"""Claiming an Idempotency-Key for a request, keeping its answer, and purging old ones.

What one user keeps is bounded: an answer is at most IDEMPOTENCY_ANSWER_MAX_BYTES (the decorator
refuses a larger one, or keeps it by reference), and all of a user's together at most
IDEMPOTENCY_USER_MAX_BYTES. A request reserves the largest answer when it claims its key, under
the user's lock, so that the bound holds at every moment, whatever runs at once.
"""

import json
import math
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Min, QuerySet, Sum
from django.utils import timezone

from accounts.models import User
from accounts.quotas import hold_account
from idempotency.models import IdempotentRequest
from ironclad.exceptions import IdempotencyKeyInUse, IdempotencyKeyReused, QuotaExceeded

# How long an answer is kept (the draft standard's suggestion): a retry after that runs again.
KEPT_FOR = timedelta(hours=24)
# What a kept answer costs besides its body and headers: its key, fingerprint, row and index
# entries, rounded up (a 255-character key included).
ROW_BYTES = 1024
# The user's lock of their kept answers: apart from the account lock, which creations hold until
# they commit, so that a claim never waits for another request's work.
KEPT_ANSWERS_LOCK = 0x1C1B


def abandoned_after() -> timedelta:
    """How long a request may hold its key without an answer. Past the longest a request can run
    (a chat message's model calls), its server died: a retry may run it again."""
    return timedelta(seconds=settings.CHAT_OPENAI_TIMEOUT + 60)


def reserved_bytes() -> int:
    """What a request counts while it runs: the largest answer it may keep."""
    return settings.IDEMPOTENCY_ANSWER_MAX_BYTES + ROW_BYTES


def claim(user: User, key: str, fingerprint: str) -> IdempotentRequest:
    """The request `user` sent with `key`: ours to run now (`status` None), or one that has run,
    whose answer is to be replayed. Raises IdempotencyKeyReused when the key came with another
    request, IdempotencyKeyInUse while the first is still running, QuotaExceeded when the user's
    kept answers leave no room for another."""
    now = timezone.now()
    fresh: dict[str, Any] = {
        "fingerprint": fingerprint,
        "status": None,
        "headers": {},
        "body": b"",
        "reference": None,
        "size": reserved_bytes(),
        "created_at": now,
    }
    # Committed at once, so that a concurrent request with the key sees it running. One user's
    # claims take turns (the room they count is then exact); other users' never wait. The user's
    # expired answers go first: what one user stores is bounded whether or not upkeep runs.
    with transaction.atomic():
        hold_account(user.pk, lock=KEPT_ANSWERS_LOCK)
        IdempotentRequest.objects.filter(user=user, created_at__lt=now - KEPT_FOR).delete()
        record, created = IdempotentRequest.objects.get_or_create(user=user, key=key, defaults=fresh)
        if created:
            _ensure_room(user, now)
            return record
        if record.status is None and record.created_at < now - abandoned_after():
            IdempotentRequest.objects.filter(pk=record.pk).update(**fresh)
            for name, value in fresh.items():
                setattr(record, name, value)
            _ensure_room(user, now)
            return record
    if record.fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    if record.status is None:
        raise IdempotencyKeyInUse()
    return record


def _ensure_room(user: User, now: Any) -> None:
    """Under the user's lock, with this request's reservation counted: raise QuotaExceeded (and
    the claim is rolled back) when it takes the user past IDEMPOTENCY_USER_MAX_BYTES."""
    limit = settings.IDEMPOTENCY_USER_MAX_BYTES
    kept = IdempotentRequest.objects.filter(user=user)
    totals = kept.aggregate(used=Sum("size"), oldest=Min("created_at"))
    if totals["used"] <= limit:
        return
    # Room comes back when a request that runs ends, or else when the oldest answer expires.
    running = kept.filter(status=None, created_at__lt=now, created_at__gte=now - abandoned_after()).exists()
    wait = 1 if running else math.ceil((totals["oldest"] + KEPT_FOR - now).total_seconds())
    raise QuotaExceeded(
        "idempotency_bytes",
        limit,
        message=(
            f"The answers kept for your Idempotency-Keys fill the {limit} bytes one account may "
            "keep for 24 hours. Retry after Retry-After seconds, or send the request without a key."
        ),
        wait=max(wait, 1),
    )


def _still_ours(record: IdempotentRequest) -> QuerySet[IdempotentRequest]:
    """The claim, unless a retry took it over since (its `created_at` is then another)."""
    return IdempotentRequest.objects.filter(pk=record.pk, created_at=record.created_at, status=None)


def answer_bytes(headers: dict[str, str], body: bytes) -> int:
    """What an answer takes to keep, its row aside: at most IDEMPOTENCY_ANSWER_MAX_BYTES."""
    return len(body) + len(json.dumps(headers))


def keep_answer(record: IdempotentRequest, *, status: int, headers: dict[str, str], body: bytes) -> None:
    """Keep an answer of at most IDEMPOTENCY_ANSWER_MAX_BYTES (the decorator makes sure of it)."""
    size = answer_bytes(headers, body) + ROW_BYTES
    _still_ours(record).update(status=status, headers=headers, body=body, size=size)


def keep_reference(
    record: IdempotentRequest, *, status: int, headers: dict[str, str], reference: dict[str, Any]
) -> None:
    """Keep, for an answer too large to keep whole, what its view reads it again from."""
    size = len(json.dumps([headers, reference])) + ROW_BYTES
    _still_ours(record).update(status=status, headers=headers, reference=reference, size=size)


def release(record: IdempotentRequest) -> None:
    """Forget a claim whose request left nothing behind: a retry runs it again."""
    _still_ours(record).delete()


def expired() -> QuerySet[IdempotentRequest]:
    """The answers (and claims) older than KEPT_FOR, which `manage.py upkeep` deletes."""
    return IdempotentRequest.objects.filter(created_at__lt=timezone.now() - KEPT_FOR)
