"""Every write to tasks and categories: the REST views and the agents' tools both call these.

Each runs in one transaction (retried after a deadlock: ironclad.transactions), takes its locks
through `lock_for_write` (or, for a category written itself, `lock_category`, its step 2), in the
one order all writes follow, then checks the request's precondition (If-Match) against the rows as
they are, locked, and writes.
"""

import calendar
import copy
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import connection, models
from django.utils import timezone

from accounts.models import User
from accounts.quotas import ensure_room
from ironclad import sql
from ironclad.exceptions import NotFoundAmongYours, QuotaExceeded
from ironclad.transactions import atomic_with_retries
from todos.dates import in_due_range
from todos.models import Category, Recurrence, Task

# A request's precondition: raises PreconditionFailed (412) unless the object, as it is now
# (locked), is the version the request names (ironclad.conditional).
Precondition = Callable[[Any], None]

# What a recurring task's next occurrence takes over from it: every field (by attribute name) but
# those of NOT_CARRIED_TO_NEXT_OCCURRENCE, which the occurrence sets afresh.
NOT_CARRIED_TO_NEXT_OCCURRENCE = (
    "id",
    "due_date",
    "remind_at",
    "completed",
    "previous_occurrence_id",
    "completed_at",
    "created_at",
    "updated_at",
)
CARRIED_TO_NEXT_OCCURRENCE = tuple(
    field.attname
    for field in Task._meta.concrete_fields
    if field.attname not in NOT_CARRIED_TO_NEXT_OCCURRENCE
)


def next_due_date(due: datetime, recurrence: str) -> datetime | None:
    """`due` moved on by its rule, on the wall clock of TIME_ZONE (Jan 31 + 1 month = Feb 28/29);
    None when that is past the last due date there can be: the recurrence ends there."""
    if recurrence not in (Recurrence.DAILY, Recurrence.WEEKLY, Recurrence.MONTHLY):
        raise ValueError(f"{recurrence!r} does not recur")
    try:
        local = timezone.localtime(due).replace(tzinfo=None)
        if recurrence == Recurrence.DAILY:
            moved = local + timedelta(days=1)
        elif recurrence == Recurrence.WEEKLY:
            moved = local + timedelta(weeks=1)
        else:
            year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
            moved = local.replace(
                year=year, month=month, day=min(local.day, calendar.monthrange(year, month)[1])
            )
    except (OverflowError, ValueError):  # past the year 9999
        return None
    next_due = timezone.make_aware(moved)
    return next_due if in_due_range(next_due) else None


# --- The lock order ---------------------------------------------------------------------------


def lock_for_write(
    user_id: str,
    *,
    categories: Iterable[int | None] = (),
    categories_of_tasks: bool = False,
    tasks: Iterable[int] = (),
    deleting: bool = False,
) -> dict[int, Task]:
    """Take a write's locks in the one order every write follows, so that no two writes wait for
    each other in a circle; return the tasks `tasks` read again, locked (those of the user's that
    still exist).

    1. Categories, FOR KEY SHARE, by id: `categories` (a task is filed there) and, with
       `categories_of_tasks`, the tasks' own (a completion files the next occurrence there; and
       deleting a category locks it, then its tasks, in no order: a write that locks several of
       them must hold it first). A category written itself is locked here too (lock_category).
    2. Tasks, FOR UPDATE, by id: `tasks` and, when `deleting` them, their next occurrences, which
       the deletion unlinks (ON DELETE SET NULL).
    3. The account's locks, taken once a write holds every row it needs, so that it waits for
       nothing more while it holds them: a task's insert or delete locks the user's task count
       (TaskCount, by its trigger), and a write that creates a category (or a conversation or a
       message) takes the account lock to count them (accounts.quotas.ensure_room).
    Then the commit takes the change feed's counter of the user (todos/migrations/0003), last.
    SQLite has one writer at a time: it takes none of them but the database's own.
    """
    task_ids = sorted(set(tasks))
    if deleting:
        following = Task.objects.filter(user_id=user_id, previous_occurrence_id__in=task_ids)
        task_ids = sorted({*task_ids, *following.values_list("pk", flat=True)})
    held: set[int] = set()
    wanted = sorted({category for category in categories if category is not None})
    if wanted or (categories_of_tasks and task_ids):
        held = _hold_categories(user_id, wanted, task_ids if categories_of_tasks else [])
    if not task_ids:  # a creation: no task to lock, and no query to build
        return {}
    locked = _tasks_for_update(user_id, task_ids)
    # A task moved to another category between the two reads: hold that one too. Out of order, so
    # it may deadlock, and run_in_transaction then runs the write again.
    if categories_of_tasks and (
        moved := {task.category_id for task in locked.values() if task.category_id is not None} - held
    ):
        _hold_categories(user_id, sorted(moved), [])
    return locked


def _tasks_for_update(user_id: str, task_ids: list[int]) -> dict[int, Task]:
    """The user's tasks `task_ids` (sorted), read and locked FOR UPDATE in id order. Hand-written:
    every write to a task runs it, and the ORM's compilation of it cost more than running it
    (docs/performance.md#where-the-orm-is-bypassed)."""
    ids = ", ".join(["%s"] * len(task_ids))
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""  # SQLite has one writer
    rows = sql.fetch(
        f'SELECT {sql.columns(Task, "task")} FROM "task" '  # noqa: S608 - columns from the model
        f'WHERE "task"."userId" = %s AND "task"."id" IN ({ids}) ORDER BY "task"."id"{lock}',
        [user_id, *task_ids],
        Task,
    )
    return {task.pk: task for (task,) in rows}


def _hold_categories(user_id: str, ids: list[int], of_tasks: list[int]) -> set[int]:
    if connection.vendor != "postgresql":
        return set(ids)
    with connection.cursor() as cursor:
        cursor.execute(
            'SELECT "id" FROM "category" WHERE "userId" = %s AND ("id" = ANY(%s) OR "id" IN '
            '(SELECT "categoryId" FROM "task" WHERE "userId" = %s AND "id" = ANY(%s))) '
            'ORDER BY "id" FOR KEY SHARE',
            [user_id, ids, user_id, of_tasks],
        )
        return {category_id for (category_id,) in cursor.fetchall()}


def lock_category(category: Category, *, deleting: bool = False) -> Category:
    """Step 2 of lock_for_write's order for a write to a category itself: the category read again,
    locked (FOR UPDATE to delete it, FOR NO KEY UPDATE, which tasks filed there do not wait for,
    to change it). Category.DoesNotExist when it is gone."""
    rows = Category.objects.filter(pk=category.pk).select_for_update(no_key=not deleting)
    return rows.get()


def _locked_task(task: Task, **locks: Any) -> Task:
    locked = lock_for_write(task.user_id, tasks=[task.pk], **locks).get(task.pk)
    if locked is None:
        raise Task.DoesNotExist("the task was deleted by a concurrent request")
    return locked


# --- Tasks ------------------------------------------------------------------------------------


@atomic_with_retries
def task_create(*, user: User, **fields: Any) -> Task:
    category = fields.get("category")
    lock_for_write(user.pk, categories=[category.pk if category else None])
    task = Task(user=user, **fields)
    if task.completed:
        task.completed_at = timezone.now()
    task.save()
    ensure_task_room(user.pk)
    return task


@atomic_with_retries
def task_update(
    *, task: Task, precondition: Precondition | None = None, **fields: Any
) -> tuple[Task, Task | None]:
    """Change a task; a change of `completed` goes through `task_set_completed`'s steps. Returns
    the task and the next occurrence a completion created."""
    completed = fields.pop("completed", None)
    filed_in = fields["category"].pk if fields.get("category") is not None else None
    recurring = fields.get("recurrence", task.recurrence) != Recurrence.NONE
    completes_in = task.category_id if completed and recurring and "category" not in fields else None
    task = _locked_task(task, categories=[filed_in, completes_in])
    if precondition is not None:
        precondition(task)
    return _update(task, completed, fields)


def _update(task: Task, completed: bool | None, fields: dict[str, Any]) -> tuple[Task, Task | None]:
    """`task` is locked (lock_for_write), with the categories a completion needs."""
    for name, value in fields.items():
        setattr(task, name, value)
    if fields:
        # Only the given fields: a concurrent completion must not be overwritten.
        task.save(update_fields=[*fields, "updated_at"])
    if completed is not None:
        return _set_completed(task, completed)
    return task, None


@atomic_with_retries
def task_set_completed(
    *, task: Task, completed: bool | None = None, precondition: Precondition | None = None
) -> tuple[Task, Task | None]:
    """Set (or, with None, toggle) `completed`; return the task and the next occurrence it created.

    Completing a recurring task creates its next occurrence once: the row lock makes a
    concurrent or repeated request see the task already completed, and a task that has a next
    occurrence already (completed, reopened, completed again) gets no second one.
    """
    completing = completed is not False  # True, or None: toggled, perhaps to completed
    # The category the next occurrence is filed in, as the task was read: one changed since makes
    # the insert take it out of order, and a deadlock from that is run again (run_in_transaction).
    completes_in = task.category_id if completing and task.recurrence != Recurrence.NONE else None
    task = _locked_task(task, categories=[completes_in])
    if precondition is not None:
        precondition(task)
    return _set_completed(task, completed)


class _CategoryFirst(Exception):  # never raised out of this module
    """The task read locked at once needs its category locked before it (lock_for_write)."""

    def __init__(self, task: Task) -> None:
        super().__init__(task.pk)
        self.task = task


def task_set_completed_by_id(
    *, user_id: str, task_id: int, completed: bool | None = None, precondition: Precondition | None = None
) -> tuple[Task, Task | None]:
    """`task_set_completed` for a task known by its id (PATCH /api/tasks/{id}/complete), in one
    read fewer: the task is read locked at once, not read first to learn which category to lock.
    A completion that files a next occurrence in a category needs that category locked before the
    task; it starts again in that order. Task.DoesNotExist when it is not one of the user's tasks."""
    try:
        return _set_completed_locked_at_once(user_id, task_id, completed, precondition)
    except _CategoryFirst as first_read:
        return task_set_completed(task=first_read.task, completed=completed, precondition=precondition)


@atomic_with_retries
def _set_completed_locked_at_once(
    user_id: str, task_id: int, completed: bool | None, precondition: Precondition | None
) -> tuple[Task, Task | None]:
    task = lock_for_write(user_id, tasks=[task_id]).get(task_id)
    if task is None:
        raise Task.DoesNotExist("not one of the user's tasks")
    if completed is not False and task.recurrence != Recurrence.NONE and task.category_id is not None:
        raise _CategoryFirst(task)  # rolls this transaction back, its lock with it
    if precondition is not None:
        precondition(task)
    return _set_completed(task, completed)


@atomic_with_retries
def task_delete(*, task: Task, precondition: Precondition | None = None) -> None:
    task = _locked_task(task, deleting=True)
    if precondition is not None:
        precondition(task)
    task.delete()


def _set_completed(task: Task, completed: bool | None) -> tuple[Task, Task | None]:
    """`task` is locked (lock_for_write), with its category if completing."""
    target = not task.completed if completed is None else completed
    if target == task.completed:
        return task, None

    task.completed = target
    task.completed_at = timezone.now() if target else None
    task.save(update_fields=["completed", "completed_at", "updated_at"])

    next_task = None
    if target and task.recurrence != Recurrence.NONE:
        next_task = _create_next_occurrence(task)
    return task, next_task


class BulkAction(models.TextChoices):
    """What POST /api/tasks/bulk does to each task it names."""

    COMPLETE = "complete"
    REOPEN = "reopen"
    DELETE = "delete"
    UPDATE = "update"


@atomic_with_retries
def tasks_bulk(
    *, user: User, action: str, ids: list[int], fields: dict[str, Any] | None = None
) -> tuple[list[Task], list[Task]]:
    """Apply `action` to the user's tasks `ids`, all or none: any id that is not theirs raises
    NotFoundAmongYours before anything changes. Returns the tasks as they are after (none for
    a deletion), in the order of `ids`, and the next occurrences that completions created."""
    changes = fields or {}
    filed_in = changes["category"].pk if changes.get("category") is not None else None
    tasks = lock_for_write(
        user.pk,
        categories=[filed_in],
        categories_of_tasks=True,  # several tasks: a category's deletion locks them in no order
        tasks=ids,
        deleting=action == BulkAction.DELETE,
    )
    if missing := [task_id for task_id in ids if task_id not in tasks]:
        raise NotFoundAmongYours("tasks", missing)
    if action == BulkAction.DELETE:
        Task.objects.filter(pk__in=ids).delete()
        return [], []

    changed, next_tasks = [], []
    for task_id in ids:
        task = tasks[task_id]
        if action == BulkAction.UPDATE:
            update = copy.deepcopy(changes)
            task, next_task = _update(task, update.pop("completed", None), update)
        else:
            task, next_task = _set_completed(task, action == BulkAction.COMPLETE)
        changed.append(task)
        if next_task is not None:
            next_tasks.append(next_task)
    return changed, next_tasks


def _create_next_occurrence(task: Task) -> Task | None:
    # A recurrence without a due date recurs from when it was done.
    due = next_due_date(task.due_date or task.completed_at or timezone.now(), task.recurrence)
    if due is None or Task.objects.filter(previous_occurrence=task).exists():
        return None
    # The reminder moves on by the same rule, from its own moment; past the last date there can be,
    # the next occurrence has none.
    remind_at = next_due_date(task.remind_at, task.recurrence) if task.remind_at is not None else None
    carried = {name: copy.deepcopy(getattr(task, name)) for name in CARRIED_TO_NEXT_OCCURRENCE}
    created = Task.objects.create(**carried, due_date=due, remind_at=remind_at, previous_occurrence=task)
    ensure_task_room(task.user_id)
    return created


# Hand-written: it runs on every creation (docs/performance.md#where-the-orm-is-bypassed).
TASK_COUNT = 'SELECT "tasks" FROM "task_count" WHERE "userId" = %s'


def ensure_task_room(user_id: str) -> None:
    """Raise QuotaExceeded (and the transaction rolls back) when the user, the task just inserted
    included, has more tasks than the quota. The insert's trigger counted it in TaskCount and
    locked the user's count until the commit: a concurrent creation waits there, then reads the
    count with this one in it (docs/api.md#limits)."""
    limit = settings.QUOTAS["tasks"]
    with connection.cursor() as cursor:
        cursor.execute(TASK_COUNT, [user_id])
        row = cursor.fetchone()
    if row is not None and row[0] > limit:
        raise QuotaExceeded("tasks", limit)


# --- Categories -------------------------------------------------------------------------------


@atomic_with_retries
def category_create(*, user: User, **fields: Any) -> Category:
    category = Category.objects.create(user=user, **fields)
    ensure_room(user.pk, "categories", Category.objects.for_user(user), adding=0)
    return category


@atomic_with_retries
def category_update(
    *, category: Category, precondition: Precondition | None = None, **fields: Any
) -> Category:
    category = lock_category(category)
    if precondition is not None:
        precondition(category)
    for name, value in fields.items():
        setattr(category, name, value)
    category.save(update_fields=[*fields, "updated_at"])
    return category


@atomic_with_retries
def category_delete(*, category: Category, precondition: Precondition | None = None) -> None:
    """Delete a category; its tasks stay, without one (ON DELETE SET NULL, in the database)."""
    category = lock_category(category, deleting=True)
    if precondition is not None:
        precondition(category)
    category.delete()
