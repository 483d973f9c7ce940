"""The change feed (GET /api/changes): a user's tasks and categories changed since a cursor.

The database records every change (todos.models.Change, written by triggers): one row per task
or category with the number its owner's counter gave its latest change, handed out in commit
order. A cursor is such a number, opaque to clients: everything numbered up to it has been read.
A page holds the objects as they are now; a deleted one is a tombstone. Tombstones are kept
CHANGE_TOMBSTONE_DAYS; a cursor from before the purged ones has missed deletions, and expires.
"""

import base64
import binascii
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone

from accounts.models import User
from ironclad.exceptions import CursorExpired
from todos.models import Category, Change, ChangeKind, ChangeSequence, Task

CURSOR_PREFIX = "c1:"


class InvalidCursor(ValueError):
    """A cursor that does not decode: not one the feed gave."""


def encode_cursor(seq: int) -> str:
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursor(cursor) from None
    digits = text.removeprefix(CURSOR_PREFIX)
    if text == digits or not digits.isascii() or not digits.isdigit() or len(digits) > 18:
        raise InvalidCursor(cursor)
    return int(digits)


@dataclass(frozen=True)
class ChangePage:
    # (kind, id, the object, or None for a tombstone), oldest change first.
    changes: list[tuple[str, int, Task | Category | None]]
    cursor: int
    has_more: bool


def change_page(user: User, *, after: int | None, limit: int) -> ChangePage:
    """The changes of `user` numbered after `after`, at most `limit`; with no cursor, every task
    and category that exists (no tombstones). All read from one snapshot of the database.

    Raises CursorExpired for a cursor before the purged tombstones, or past any number given."""
    # One snapshot for every query below (on SQLite, a transaction is one already). Inside an
    # outer transaction (a test's) the snapshot is that transaction's.
    own_snapshot = connection.vendor == "postgresql" and not connection.in_atomic_block
    with transaction.atomic():
        if own_snapshot:
            with connection.cursor() as sql:
                sql.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
        sequence = ChangeSequence.objects.filter(user=user).values_list("last_seq", "purged_through").first()
        last_seq, purged_through = sequence or (0, 0)
        if after is not None and not purged_through <= after <= last_seq:
            raise CursorExpired()
        changes = Change.objects.filter(user=user, seq__gt=after or 0).order_by("seq")
        if after is None:
            changes = changes.filter(deleted=False)
        rows = list(changes.values_list("kind", "object_id", "seq", "deleted")[: limit + 1])
        has_more = len(rows) > limit
        rows = rows[:limit]
        objects = _objects_of(rows)
    listed = [
        (kind, object_id, None if deleted else objects.get((kind, object_id)))
        for kind, object_id, _seq, deleted in rows
    ]
    # Without more to read, everything up to the counter has been read (tombstones left out too).
    cursor = rows[-1][2] if has_more else max(last_seq, rows[-1][2] if rows else 0)
    return ChangePage(listed, cursor, has_more)


def _objects_of(rows: list[tuple[str, int, int, bool]]) -> dict[tuple[str, int], Any]:
    wanted: dict[str, list[int]] = {ChangeKind.TASK: [], ChangeKind.CATEGORY: []}
    for kind, object_id, _seq, deleted in rows:
        if not deleted:
            wanted[kind].append(object_id)
    objects: dict[tuple[str, int], Any] = {}
    model: type[models.Model]
    for kind, model in ((ChangeKind.TASK, Task), (ChangeKind.CATEGORY, Category)):
        if wanted[kind]:
            objects |= {(kind, row.pk): row for row in model._default_manager.filter(pk__in=wanted[kind])}
    return objects


def old_tombstones() -> "models.QuerySet[Change]":
    """Tombstones older than CHANGE_TOMBSTONE_DAYS, which `manage.py upkeep` deletes."""
    age = timedelta(days=settings.CHANGE_TOMBSTONE_DAYS)
    return Change.objects.filter(deleted=True, changed_at__lt=timezone.now() - age)


@transaction.atomic
def purge_tombstones() -> int:
    """Delete the old tombstones; a cursor from before them then expires (the counter's
    `purged_through` moves past them). Returns how many were deleted."""
    purged = old_tombstones()
    for user_id, top in purged.values_list("user").annotate(top=models.Max("seq")).order_by():
        ChangeSequence.objects.filter(user_id=user_id, purged_through__lt=top).update(purged_through=top)
    deleted, _ = purged.delete()
    return deleted
