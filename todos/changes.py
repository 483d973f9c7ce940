"""The change feed (GET /api/changes): a user's tasks and categories changed since a cursor.

The database records every change (todos.models.Change, written by triggers): one row per task
or category with the number its owner's counter gave its latest change, handed out in commit
order. A cursor is such a number, opaque to clients: everything numbered up to it has been read.
A page holds the objects as they are now; a deleted one is a tombstone. Tombstones are kept
CHANGE_TOMBSTONE_DAYS; a cursor from before the purged ones has missed deletions, and expires.
"""

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import connection, models, transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from accounts.models import User
from ironclad.exceptions import CursorExpired
from todos.models import Category, Change, ChangeKind, ChangeSequence, Task

CURSOR_PREFIX = "c1:"


class InvalidCursor(ValueError):
    """A cursor that does not decode: not one the feed gave."""


@dataclass(frozen=True)
class Cursor:
    """Where a client is: every change numbered up to `seq` has been read."""

    owner: str  # owner_tag(user): another user's cursor is refused, not read against these numbers
    seq: int
    # Set while a first sync (no cursor) pages through everything there is: the counter when it
    # began. Tombstones numbered up to it are left out: the client never had those objects.
    listing_from: int | None = None


def owner_tag(user: User) -> str:
    return salted_hmac("ironclad.changes.cursor", str(user.pk), algorithm="sha256").hexdigest()[:12]


def encode_cursor(cursor: Cursor) -> str:
    numbers = [cursor.seq] if cursor.listing_from is None else [cursor.seq, cursor.listing_from]
    text = ":".join([f"{CURSOR_PREFIX}{cursor.owner}", *map(str, numbers)])
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(text: str) -> Cursor:
    try:
        decoded = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursor(text) from None
    owner, *numbers = decoded.removeprefix(CURSOR_PREFIX).split(":")
    if (
        decoded == owner
        or not re.fullmatch("[0-9a-f]{12}", owner)
        or not 1 <= len(numbers) <= 2
        or not all(re.fullmatch("[0-9]{1,18}", number) for number in numbers)
    ):
        raise InvalidCursor(text)
    return Cursor(owner, int(numbers[0]), int(numbers[1]) if len(numbers) == 2 else None)


@dataclass(frozen=True)
class ChangePage:
    # (kind, id, the object, or None for a tombstone), oldest change first.
    changes: list[tuple[str, int, Task | Category | None]]
    cursor: Cursor
    has_more: bool


def change_page(user: User, *, after: Cursor | None, limit: int) -> ChangePage:
    """The changes of `user` numbered after the cursor, at most `limit`; with no cursor, every task
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
        owner = owner_tag(user)
        if after is None:
            after = Cursor(owner, 0, listing_from=last_seq)
        elif after.owner != owner:
            raise CursorExpired()  # another user's
        elif max(after.seq, after.listing_from or 0) > last_seq:
            raise CursorExpired()  # not a number this user's feed gave
        elif max(after.seq, after.listing_from or 0) < purged_through:
            raise CursorExpired()  # a deletion it has not read may have been purged
        changes = Change.objects.filter(user=user, seq__gt=after.seq).order_by("seq")
        if after.listing_from is not None:
            changes = changes.filter(models.Q(deleted=False) | models.Q(seq__gt=after.listing_from))
        rows = list(changes.values_list("kind", "object_id", "seq", "deleted")[: limit + 1])
        has_more = len(rows) > limit
        rows = rows[:limit]
        objects = _objects_of(rows)
    listed = [
        (kind, object_id, None if deleted else objects.get((kind, object_id)))
        for kind, object_id, _seq, deleted in rows
    ]
    if has_more:
        cursor = Cursor(owner, rows[-1][2], after.listing_from)
    else:  # everything up to the counter has been read (tombstones left out too)
        cursor = Cursor(owner, max(last_seq, rows[-1][2] if rows else 0))
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
    # Each user's counter in the order of their ids: two upkeeps at once cannot deadlock.
    for user_id, top in purged.values_list("user").annotate(top=models.Max("seq")).order_by("user"):
        ChangeSequence.objects.filter(user_id=user_id, purged_through__lt=top).update(purged_through=top)
    deleted, _ = purged.delete()
    return deleted
