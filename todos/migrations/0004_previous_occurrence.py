"""A recurring series is known by its links, not by titles and dates: each task names the task
whose completion created it (`previousOccurrenceId`), and has at most one next occurrence.

Before, a next occurrence was recognised by its user, title, recurrence and due date, so two series
with the same title and due date shared one next occurrence (one of them was lost). The existing
occurrences are linked here by that same old rule, so that completing a task again after the
upgrade does not create its next occurrence twice.
"""

import calendar
import importlib
from collections import defaultdict
from datetime import timedelta

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone

# Checked at the write, as the category is (migration 0003): a committing transaction must need
# no row another one has locked.
IMMEDIATE_PREVIOUS_CHECK = """
DO $$
DECLARE
    name text;
BEGIN
    SELECT conname INTO name FROM pg_constraint
    WHERE conrelid = '"task"'::regclass AND confrelid = '"task"'::regclass AND contype = 'f';
    EXECUTE 'ALTER TABLE "task" ALTER CONSTRAINT ' || quote_ident(name) || ' NOT DEFERRABLE';
END
$$
"""


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


def link_occurrences(apps, schema_editor):
    Task = apps.get_model("todos", "Task")
    series = defaultdict(list)
    recurring = Task.objects.exclude(recurrence="none").order_by("id")
    for task in recurring.only("id", "user_id", "title", "recurrence", "due_date", "completed_at").iterator():
        series[(task.user_id, task.title, task.recurrence)].append(task)
    links = []
    for tasks in series.values():
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
                links.append(Task(pk=following.pk, previous_occurrence_id=task.pk))
    Task.objects.bulk_update(links, ["previous_occurrence"], batch_size=500)


def make_check_immediate(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(IMMEDIATE_PREVIOUS_CHECK)


def restore_sqlite_triggers(apps, schema_editor):
    """SQLite adds a foreign key by building the table anew, without the change feed's triggers
    (migration 0003): they are created again, as 0003 created them."""
    if schema_editor.connection.vendor != "sqlite":
        return
    change_feed = importlib.import_module("todos.migrations.0003_change_feed")
    for operation, row, deleted in (("INSERT", "NEW", 0), ("UPDATE", "NEW", 0), ("DELETE", "OLD", 1)):
        schema_editor.execute(f'DROP TRIGGER IF EXISTS "task_record_{operation}"')
        schema_editor.execute(
            change_feed.SQLITE_TRIGGER.format(table="task", operation=operation, row=row, deleted=deleted)
        )


class Migration(migrations.Migration):
    dependencies = [
        ("todos", "0003_change_feed"),
    ]

    operations = [
        migrations.AddField(
            model_name="task",
            name="previous_occurrence",
            field=models.OneToOneField(
                blank=True,
                db_column="previousOccurrenceId",
                editable=False,
                null=True,
                on_delete=django.db.models.deletion.DB_SET_NULL,
                related_name="next_occurrence",
                to="todos.task",
            ),
        ),
        migrations.RunPython(restore_sqlite_triggers, migrations.RunPython.noop, elidable=False),
        migrations.RunPython(make_check_immediate, migrations.RunPython.noop, elidable=False),
        migrations.RunPython(link_occurrences, migrations.RunPython.noop, elidable=False),
    ]
