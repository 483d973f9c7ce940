"""A recurring series is known by its links, not by titles and dates: each task names the task
whose completion created it (`previousOccurrenceId`), and has at most one next occurrence. The
existing occurrences are linked in 0005.
"""

import importlib

import django.db.models.deletion
from django.db import migrations, models

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
        # Reversed, this runs last: removing the field builds SQLite's table anew too.
        migrations.RunPython(migrations.RunPython.noop, restore_sqlite_triggers, elidable=False),
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
    ]
