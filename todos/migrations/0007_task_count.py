"""Each user's number of tasks, kept by triggers on `task`: the task quota reads one row, where it
counted the user's tasks (up to the quota) on every creation, a cost that grew with the account.

The triggers run at the write, whoever makes it (the API, the admin, plain SQL): an insert adds
one, a delete takes one away, a task moved to another user (never done by Ironclad) moves its
count, and TRUNCATE empties the counts (PostgreSQL). An insert's upsert locks the user's row until
the transaction ends: the account's lock of the one lock order (todos.services.lock_for_write),
taken after the task and category locks and before the change feed's counter at the commit. The
counts start from the tasks there are, made in the migration's transaction after the triggers, so
that no write in between is missed.

Search (todos/migrations/0006) reads the account's own tasks when it has at most
SMALL_ACCOUNT tasks, and the trigram indexes only past that: the indexes find the rows holding the
user's id and the term together, which is cheap when the id's trigrams are rare, but user ids that
share them ("load-000123", or numbers) made a search of 50 tasks read posting lists of the whole
table (20 ms). Reading 500 tasks costs at most a few milliseconds, long descriptions included.

A task's user is checked at the write, as its category is (0003): checked at the commit, a
transaction holding the count would then wait for the user row that a deletion of the user had
locked, while the deletion waited, in its cascade, for the count: a deadlock.
"""

from importlib import import_module

import django.db.models.deletion
from django.db import migrations, models

# Makes the task's foreign key to its user {when} (NOT DEFERRABLE: checked at the write).
USER_CHECK = """
DO $$
DECLARE
    name text;
BEGIN
    SELECT conname INTO name FROM pg_constraint
    WHERE conrelid = '"task"'::regclass AND confrelid = '"user"'::regclass AND contype = 'f';
    EXECUTE 'ALTER TABLE "task" ALTER CONSTRAINT ' || quote_ident(name) || ' {when}';
END
$$
"""
COUNT_FUNCTIONS = [
    """
CREATE FUNCTION "count_task"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('DELETE', 'UPDATE') THEN
        UPDATE "task_count" SET "tasks" = "tasks" - 1 WHERE "userId" = OLD."userId";
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO "task_count" AS counter ("userId", "tasks") VALUES (NEW."userId", 1)
        ON CONFLICT ("userId") DO UPDATE SET "tasks" = counter."tasks" + 1;
    END IF;
    RETURN NULL;
END $$
""",
    """
CREATE FUNCTION "forget_task_counts"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM "task_count";
    RETURN NULL;
END $$
""",
]
COUNT_TRIGGERS = [
    'CREATE TRIGGER "task_count" AFTER INSERT OR DELETE ON "task" '
    'FOR EACH ROW EXECUTE FUNCTION "count_task"()',
    'CREATE TRIGGER "task_count_move" AFTER UPDATE OF "userId" ON "task" '
    'FOR EACH ROW WHEN (OLD."userId" IS DISTINCT FROM NEW."userId") EXECUTE FUNCTION "count_task"()',
    'CREATE TRIGGER "task_count_truncate" AFTER TRUNCATE ON "task" '
    'FOR EACH STATEMENT EXECUTE FUNCTION "forget_task_counts"()',
]
SMALL_ACCOUNT = 500
SEARCH_FUNCTION = f"""
CREATE FUNCTION "task_search"(owner text, term text, pattern text) RETURNS SETOF bigint
LANGUAGE plpgsql STABLE PARALLEL SAFE ROWS 100 SET enable_seqscan = off AS $$
BEGIN
    IF COALESCE((SELECT "tasks" FROM "task_count" WHERE "userId" = owner), 0) <= {SMALL_ACCOUNT} THEN
        RETURN QUERY SELECT "id" FROM "task"
        WHERE "userId" = owner AND ("title" ILIKE term OR "description" ILIKE term);
    ELSE
        RETURN QUERY SELECT "id" FROM "task"
        WHERE ("userId" || ' ' || "title") ILIKE pattern OR ("userId" || ' ' || "description") ILIKE pattern;
    END IF;
END $$
"""
POSTGRESQL = [
    USER_CHECK.format(when="NOT DEFERRABLE"),
    *COUNT_FUNCTIONS,
    *COUNT_TRIGGERS,
    'DROP FUNCTION "task_search"(text)',
    SEARCH_FUNCTION,
]
POSTGRESQL_DROP = [
    'DROP FUNCTION "task_search"(text, text, text)',
    import_module("todos.migrations.0006_search_indexes").SEARCH_FUNCTION,
    USER_CHECK.format(when="DEFERRABLE INITIALLY DEFERRED"),
    'DROP TRIGGER "task_count_truncate" ON "task"',
    'DROP TRIGGER "task_count_move" ON "task"',
    'DROP TRIGGER "task_count" ON "task"',
    'DROP FUNCTION "forget_task_counts"()',
    'DROP FUNCTION "count_task"()',
]

ADD = (
    'INSERT INTO "task_count" ("userId", "tasks") VALUES ({row}."userId", 1) '
    'ON CONFLICT ("userId") DO UPDATE SET "tasks" = "tasks" + 1;'
)
TAKE = 'UPDATE "task_count" SET "tasks" = "tasks" - 1 WHERE "userId" = {row}."userId";'
SQLITE = [
    f'CREATE TRIGGER "task_count_insert" AFTER INSERT ON "task" BEGIN {ADD.format(row="NEW")} END',
    f'CREATE TRIGGER "task_count_delete" AFTER DELETE ON "task" BEGIN {TAKE.format(row="OLD")} END',
    'CREATE TRIGGER "task_count_move" AFTER UPDATE OF "userId" ON "task" '
    f'WHEN OLD."userId" IS NOT NEW."userId" BEGIN {TAKE.format(row="OLD")} {ADD.format(row="NEW")} END',
]
SQLITE_DROP = [f'DROP TRIGGER "{name}"' for name in ("task_count_insert", "task_count_delete", "task_count_move")]

BACKFILL = 'INSERT INTO "task_count" ("userId", "tasks") SELECT "userId", COUNT(*) FROM "task" GROUP BY "userId"'


def create_triggers(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor not in ("postgresql", "sqlite"):
        raise NotImplementedError(f"The task counts' triggers are written for PostgreSQL and SQLite, not {vendor}.")
    for statement in POSTGRESQL if vendor == "postgresql" else SQLITE:
        schema_editor.execute(statement)
    schema_editor.execute(BACKFILL)


def drop_triggers(apps, schema_editor) -> None:
    for statement in POSTGRESQL_DROP if schema_editor.connection.vendor == "postgresql" else SQLITE_DROP:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_user_verbose_name"),
        ("todos", "0006_search_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="TaskCount",
            fields=[
                (
                    "user",
                    models.OneToOneField(
                        db_column="userId",
                        on_delete=django.db.models.deletion.DB_CASCADE,
                        primary_key=True,
                        related_name="+",
                        serialize=False,
                        to="accounts.user",
                    ),
                ),
                ("tasks", models.BigIntegerField(default=0)),
            ],
            options={
                "db_table": "task_count",
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers),
    ]
