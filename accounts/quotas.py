"""Per-account quotas: how many categories, conversations and messages one user may keep (the
QUOTA_* settings; docs/api.md#limits), and the account lock that makes them exact. Tasks, the
many, are counted by triggers instead (todos.models.TaskCount, todos.services.ensure_task_room).

The account lock comes last in the one lock order every write follows (todos.services
lock_for_write): a write that creates a row under a quota takes it once it holds every row it
needs, to count (after its insert, or just before it), and holds it until its transaction ends.
So one user's creations take turns between the count and the commit, and two at once can never
both take the last place; nothing else waits for it, and it waits for nothing while held.
"""

from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import QuerySet

from ironclad.exceptions import QuotaExceeded

# PostgreSQL's advisory locks are named by two integers: this class, and the user's id hashed.
ACCOUNT_LOCK_CLASS = 0x1C1A


def hold_account(user_id: str, *, lock: int = ACCOUNT_LOCK_CLASS) -> None:
    """Take the account lock of the user `user_id` (or another of their locks: `lock`) until the
    transaction ends, at once if this transaction holds it already. SQLite needs none: its
    transactions take the database's one write lock when they begin."""
    if not connection.in_atomic_block:
        raise RuntimeError("the account lock is held by a transaction: call it inside one")
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [lock, user_id])


def ensure_room(user_id: str, resource: str, owned: QuerySet[Any], *, adding: int = 1) -> None:
    """Raise QuotaExceeded (and the transaction rolls back) unless the user may add `adding` more
    to `owned`, their rows of `resource` (a key of settings.QUOTAS), counted under the account
    lock. A write that has just inserted its row counts it with `adding=0`: it holds the lock
    for the count and the commit only. The count stops past the quota: it costs the same however
    far past it an account already is (a quota lowered since)."""
    limit = settings.QUOTAS[resource]
    hold_account(user_id)
    if owned.order_by()[: limit + 1].count() + adding > limit:
        raise QuotaExceeded(resource, limit)
