"""Claiming an Idempotency-Key for a request, keeping its answer, and purging old ones."""

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from idempotency.models import IdempotentRequest
from ironclad.exceptions import IdempotencyKeyInUse, IdempotencyKeyReused

# How long an answer is kept (the draft standard's suggestion): a retry after that runs again.
KEPT_FOR = timedelta(hours=24)


def abandoned_after() -> timedelta:
    """How long a request may hold its key without an answer. Past the longest a request can run
    (a chat message's model calls), its server died: a retry may run it again."""
    return timedelta(seconds=settings.CHAT_OPENAI_TIMEOUT + 60)


def claim(user: User, key: str, fingerprint: str) -> IdempotentRequest:
    """The request `user` sent with `key`: ours to run now (`status` None), or one that has run,
    whose answer is to be replayed. Raises IdempotencyKeyReused when the key came with another
    request, IdempotencyKeyInUse while the first is still running."""
    now = timezone.now()
    # Committed at once, so that a concurrent request with the key sees it running. (A concurrent
    # insert of the same key waits for this one, then finds it.)
    with transaction.atomic():
        record, created = IdempotentRequest.objects.get_or_create(
            user=user, key=key, defaults={"fingerprint": fingerprint, "created_at": now}
        )
    if created:
        return record
    expired = record.created_at < now - KEPT_FOR
    abandoned = record.status is None and record.created_at < now - abandoned_after()
    if expired or abandoned:
        # Taken over only if no concurrent request took it over first.
        fresh: dict[str, Any] = {
            "fingerprint": fingerprint,
            "status": None,
            "headers": {},
            "body": b"",
            "created_at": now,
        }
        if IdempotentRequest.objects.filter(pk=record.pk, created_at=record.created_at).update(**fresh):
            for name, value in fresh.items():
                setattr(record, name, value)
            return record
        raise IdempotencyKeyInUse()
    if record.fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    if record.status is None:
        raise IdempotencyKeyInUse()
    return record


def _still_ours(record: IdempotentRequest) -> QuerySet[IdempotentRequest]:
    """The claim, unless a retry took it over since (its `created_at` is then another)."""
    return IdempotentRequest.objects.filter(pk=record.pk, created_at=record.created_at, status=None)


def keep_answer(record: IdempotentRequest, *, status: int, headers: dict[str, str], body: bytes) -> None:
    _still_ours(record).update(status=status, headers=headers, body=body)


def release(record: IdempotentRequest) -> None:
    """Forget a claim whose request left nothing behind: a retry runs it again."""
    _still_ours(record).delete()


def expired() -> QuerySet[IdempotentRequest]:
    """The answers (and claims) older than KEPT_FOR, which `manage.py upkeep` deletes."""
    return IdempotentRequest.objects.filter(created_at__lt=timezone.now() - KEPT_FOR)
