"""The next occurrences made before series were linked (0004) are linked to the task they came from,
by the rule that recognised them then: the task of the same user, title and recurrence, due one
step later. So completing that task again after the upgrade does not make its next occurrence
twice. (Two series with the same title and due date shared one next occurrence then; one of them
gets it.)

Outside a transaction, in batches that commit as they go: the table takes reads and writes
meanwhile, and only recurring tasks are read, one series at a time.
"""

import calendar
from datetime import timedelta
from itertools import groupby

from django.db import migrations
from django.utils import timezone

BATCH = 500


def next_due(due, recurrence):
    """todos.services.next_due_date as it was when this migration was written."""
    try:
        local = timezone.localtime(due).replace(tzinfo=None)
        if recurrence == "daily":
            moved = local + timedelta(days=1)
        elif recurrence == "weekly":
            moved = local + timedelta(weeks=1)
        else:
            year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
            moved = local.replace(year=year, month=month, day=min(local.day, calendar.monthrange(year, month)[1]))
        return timezone.make_aware(moved)
    except (OverflowError, ValueError):
        return None


def links_of(tasks):
    """(next occurrence, the task it came from) in one series, its tasks in the order of their ids."""
    by_due = {}
    for task in tasks:
        by_due.setdefault(task.due_date, task)
    linked = set()
    for task in tasks:
        start = task.due_date or task.completed_at
        due = next_due(start, task.recurrence) if start else None
        following = by_due.get(due)
        if following is not None and following.pk > task.pk and following.pk not in linked:
            linked.add(following.pk)
            yield following.pk, task.pk


def link_occurrences(apps, schema_editor):
    Task = apps.get_model("todos", "Task")
    recurring = (
        Task.objects.exclude(recurrence="none")
        .filter(previous_occurrence__isnull=True)
        .order_by("user_id", "title", "recurrence", "id")
        .only("id", "user_id", "title", "recurrence", "due_date", "completed_at")
    )
    pending = []
    for _series, tasks in groupby(recurring.iterator(), key=lambda task: (task.user_id, task.title, task.recurrence)):
        pending += [Task(pk=following, previous_occurrence_id=previous) for following, previous in links_of(list(tasks))]
        if len(pending) >= BATCH:
            Task.objects.bulk_update(pending, ["previous_occurrence"])
            pending = []
    Task.objects.bulk_update(pending, ["previous_occurrence"])


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ("todos", "0004_previous_occurrence"),
    ]

    operations = [migrations.RunPython(link_occurrences, migrations.RunPython.noop, elidable=False)]
