"""Writes with side effects on tasks. The REST views and the chat tools both call these."""

import calendar
import copy
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, models, transaction
from django.utils import timezone

from accounts.models import User
from ironclad.exceptions import NotFoundAmongYours
from todos.dates import in_due_range
from todos.models import Category, Recurrence, Task

# What a recurring task's next occurrence takes over from it: every field (by attribute name) but
# those of NOT_CARRIED_TO_NEXT_OCCURRENCE, which the occurrence sets afresh.
NOT_CARRIED_TO_NEXT_OCCURRENCE = ("id", "due_date", "completed", "completed_at", "created_at", "updated_at")
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


def task_create(*, user: User, **fields: Any) -> Task:
    task = Task(user=user, **fields)
    if task.completed:
        task.completed_at = timezone.now()
    task.save()
    return task


@transaction.atomic
def task_update(*, task: Task, **fields: Any) -> tuple[Task, Task | None]:
    """Change a task; a change of `completed` goes through `task_set_completed`'s steps. Returns
    the task and the next occurrence a completion created."""
    completed = fields.pop("completed", None)
    for name, value in fields.items():
        setattr(task, name, value)
    if completed:
        hold_category_of_recurring(task)  # before the update below locks the task
    if fields:
        # Only the given fields: a concurrent completion must not be overwritten.
        task.save(update_fields=[*fields, "updated_at"])
    if completed is not None and completed != task.completed:
        return _set_completed(task, completed)
    return task, None


@transaction.atomic
def task_set_completed(*, task: Task, completed: bool | None = None) -> tuple[Task, Task | None]:
    """Set (or, with None, toggle) `completed`; return the task and the next occurrence it created.

    Completing a recurring task creates its next occurrence once: the row lock makes a
    concurrent or repeated request see the task already completed, and an occurrence that
    already exists (completed, reopened, completed again) is not created twice.
    """
    if completed is not False:  # True, or None: toggled, perhaps to completed
        hold_category_of_recurring(task)
    return _set_completed(task, completed)


def _set_completed(task: Task, completed: bool | None) -> tuple[Task, Task | None]:
    task = Task.objects.select_for_update().get(pk=task.pk)
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


@transaction.atomic
def tasks_bulk(
    *, user: User, action: str, ids: list[int], fields: dict[str, Any] | None = None
) -> tuple[list[Task], list[Task]]:
    """Apply `action` to the user's tasks `ids`, all or none: any id that is not theirs raises
    NotFoundAmongYours before anything changes. Returns the tasks as they are after (none for
    a deletion), in the order of `ids`, and the next occurrences that completions created."""
    changes = fields or {}
    if action == BulkAction.COMPLETE or changes.get("completed"):
        # Before the tasks, as one completion does: their categories, and the one they move to.
        _hold_categories_of_tasks(user, ids, also=changes.get("category"))
    locked = Task.objects.for_user(user).filter(pk__in=ids).order_by("pk").select_for_update()
    tasks = {task.pk: task for task in locked}
    if missing := [task_id for task_id in ids if task_id not in tasks]:
        raise NotFoundAmongYours("tasks", missing)
    if action == BulkAction.DELETE:
        Task.objects.filter(pk__in=ids).delete()
        return [], []

    changed, next_tasks = [], []
    for task_id in ids:
        task = tasks[task_id]
        if action == BulkAction.UPDATE:
            task, next_task = task_update(task=task, **copy.deepcopy(changes))
        else:
            task, next_task = _set_completed(task, action == BulkAction.COMPLETE)
        changed.append(task)
        if next_task is not None:
            next_tasks.append(next_task)
    return changed, next_tasks


def _hold_categories_of_tasks(user: User, ids: list[int], *, also: Category | None) -> None:
    """hold_category_of_recurring for many tasks at once (whatever their recurrence, which an
    update may change), and for `also`, in the order of the categories' ids."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute(
            'SELECT 1 FROM "category" WHERE "id" IN (SELECT "categoryId" FROM "task" '
            'WHERE "userId" = %s AND "id" = ANY(%s)) OR "id" = %s ORDER BY "id" FOR KEY SHARE',
            [user.pk, ids, also.pk if also is not None else None],
        )


def hold_category_of_recurring(task: Task) -> None:
    """Before a recurring task is locked to be completed: keep its category from being deleted
    until the transaction ends (PostgreSQL's FOR KEY SHARE, which inserting the next occurrence
    takes anyway). Deleting a category locks it, then its tasks (ON DELETE SET NULL); completing
    must lock in the same order, or the two deadlock. SQLite has one writer at a time."""
    if task.recurrence == Recurrence.NONE or task.category_id is None or connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute('SELECT 1 FROM "category" WHERE "id" = %s FOR KEY SHARE', [task.category_id])


def _create_next_occurrence(task: Task) -> Task | None:
    # A recurrence without a due date recurs from when it was done.
    due = next_due_date(task.due_date or task.completed_at or timezone.now(), task.recurrence)
    if due is None:
        return None
    already = Task.objects.filter(
        user_id=task.user_id, title=task.title, recurrence=task.recurrence, due_date=due
    )
    if already.exists():
        return None
    carried = {name: copy.deepcopy(getattr(task, name)) for name in CARRIED_TO_NEXT_OCCURRENCE}
    return Task.objects.create(**carried, due_date=due)
