"""The change feed's tables, and the triggers that fill them.

Every insert, update and delete of a task or category, whoever makes it (the API, the admin, a
category's ON DELETE SET NULL, plain SQL), upserts the row's `change` with the next number of its
owner's `change_sequence`. On PostgreSQL the triggers are deferred to the commit, and that upsert
locks the owner's sequence row until the transaction ends, so a user's numbers are given out in
commit order: a reader that has seen number n has seen every change numbered below it, and
"seq > cursor" skips nothing. (Deferred, the lock is taken after the foreign keys' own checks and
held only while the transaction commits: taken at the write, it made a cycle with a concurrent
write waiting for a row this transaction's commit-time key check needed.) SQLite has one writer
at a time. Rows of a user being deleted are not recorded (their change rows go with the user).
"""

import django.db.models.deletion
from django.db import migrations, models

POSTGRESQL_FUNCTION = """
CREATE FUNCTION "record_change"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    owner text;
    changed_id bigint;
    next_seq bigint;
BEGIN
    IF TG_OP = 'DELETE' THEN
        owner := OLD."userId";
        changed_id := OLD."id";
    ELSE
        owner := NEW."userId";
        changed_id := NEW."id";
    END IF;
    INSERT INTO "change_sequence" AS counter ("userId", "lastSeq", "purgedThrough")
    SELECT owner, 1, 0 WHERE EXISTS (SELECT 1 FROM "user" WHERE "id" = owner)
    ON CONFLICT ("userId") DO UPDATE SET "lastSeq" = counter."lastSeq" + 1
    RETURNING "lastSeq" INTO next_seq;
    IF next_seq IS NOT NULL THEN
        INSERT INTO "change" ("kind", "objectId", "userId", "seq", "deleted", "changedAt")
        VALUES (TG_ARGV[0], changed_id, owner, next_seq, TG_OP = 'DELETE', now())
        ON CONFLICT ("kind", "objectId") DO UPDATE SET
            "userId" = EXCLUDED."userId", "seq" = EXCLUDED."seq",
            "deleted" = EXCLUDED."deleted", "changedAt" = EXCLUDED."changedAt";
    END IF;
    RETURN NULL;
END
$$;
"""

# SQLite has one writer at a time, so its commit order is its order of writes.
SQLITE_TRIGGER = """
CREATE TRIGGER "{table}_record_{operation}" AFTER {operation} ON "{table}"
WHEN EXISTS (SELECT 1 FROM "user" WHERE "id" = {row}."userId")
BEGIN
    INSERT INTO "change_sequence" ("userId", "lastSeq", "purgedThrough") VALUES ({row}."userId", 1, 0)
    ON CONFLICT ("userId") DO UPDATE SET "lastSeq" = "lastSeq" + 1;
    INSERT INTO "change" ("kind", "objectId", "userId", "seq", "deleted", "changedAt")
    VALUES (
        '{table}', {row}."id", {row}."userId",
        (SELECT "lastSeq" FROM "change_sequence" WHERE "userId" = {row}."userId"),
        {deleted}, strftime('%Y-%m-%d %H:%M:%f', 'now')
    )
    ON CONFLICT ("kind", "objectId") DO UPDATE SET
        "userId" = excluded."userId", "seq" = excluded."seq",
        "deleted" = excluded."deleted", "changedAt" = excluded."changedAt";
END
"""

TABLES = ("task", "category")

IMMEDIATE_CATEGORY_CHECK = """
DO $$
DECLARE
    name text;
BEGIN
    SELECT conname INTO name FROM pg_constraint
    WHERE conrelid = '"task"'::regclass AND confrelid = '"category"'::regclass AND contype = 'f';
    EXECUTE 'ALTER TABLE "task" ALTER CONSTRAINT ' || quote_ident(name) || ' NOT DEFERRABLE';
END
$$
"""

# What was there before the feed: one change per row, numbered per user in order of creation.
BACKFILL = """
INSERT INTO "change" ("kind", "objectId", "userId", "seq", "deleted", "changedAt")
SELECT kind, id, "userId", ROW_NUMBER() OVER (PARTITION BY "userId" ORDER BY "createdAt", kind, id),
       {false}, "updatedAt"
FROM (
    SELECT 'task' AS kind, id, "userId", "createdAt", "updatedAt" FROM "task"
    UNION ALL
    SELECT 'category', id, "userId", "createdAt", "updatedAt" FROM "category"
) AS existing
"""
BACKFILL_SEQUENCES = """
INSERT INTO "change_sequence" ("userId", "lastSeq", "purgedThrough")
SELECT "userId", MAX("seq"), 0 FROM "change" GROUP BY "userId"
"""


def create_triggers(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    schema_editor.execute(BACKFILL.format(false="false" if vendor == "postgresql" else "0"))
    schema_editor.execute(BACKFILL_SEQUENCES)
    if vendor == "postgresql":
        # A task's category is checked at the write, not at the commit (Django defers foreign
        # keys): a committing transaction holds its user's counter, and must then need no row that
        # another transaction, itself waiting for that counter, has locked.
        schema_editor.execute(IMMEDIATE_CATEGORY_CHECK)
        schema_editor.execute(POSTGRESQL_FUNCTION)
        for table in TABLES:
            schema_editor.execute(
                f'CREATE CONSTRAINT TRIGGER "{table}_record_change" AFTER INSERT OR UPDATE OR DELETE '
                f'ON "{table}" DEFERRABLE INITIALLY DEFERRED '
                f"FOR EACH ROW EXECUTE FUNCTION \"record_change\"('{table}')"
            )
    elif vendor == "sqlite":
        for table in TABLES:
            for operation, row, deleted in (("INSERT", "NEW", 0), ("UPDATE", "NEW", 0), ("DELETE", "OLD", 1)):
                schema_editor.execute(
                    SQLITE_TRIGGER.format(table=table, operation=operation, row=row, deleted=deleted)
                )
    else:
        raise NotImplementedError(
            f"The change feed's triggers are written for PostgreSQL and SQLite, not {vendor}."
        )


def drop_triggers(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        for table in TABLES:
            schema_editor.execute(f'DROP TRIGGER "{table}_record_change" ON "{table}"')
        schema_editor.execute('DROP FUNCTION "record_change"()')
    else:
        for table in TABLES:
            for operation in ("INSERT", "UPDATE", "DELETE"):
                schema_editor.execute(f'DROP TRIGGER "{table}_record_{operation}"')


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_user_verbose_name"),
        ("todos", "0002_task_user_created"),
    ]

    operations = [
        migrations.CreateModel(
            name="ChangeSequence",
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
                ("last_seq", models.BigIntegerField(db_column="lastSeq", default=0)),
                ("purged_through", models.BigIntegerField(db_column="purgedThrough", default=0)),
            ],
            options={
                "db_table": "change_sequence",
            },
        ),
        migrations.CreateModel(
            name="Change",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "kind", "object_id", blank=True, editable=False, primary_key=True, serialize=False
                    ),
                ),
                ("kind", models.TextField(choices=[("task", "Task"), ("category", "Category")])),
                ("object_id", models.BigIntegerField(db_column="objectId")),
                ("seq", models.BigIntegerField()),
                ("deleted", models.BooleanField(default=False)),
                ("changed_at", models.DateTimeField(db_column="changedAt")),
                (
                    "user",
                    models.ForeignKey(
                        db_column="userId",
                        db_index=False,
                        on_delete=django.db.models.deletion.DB_CASCADE,
                        related_name="+",
                        to="accounts.user",
                    ),
                ),
            ],
            options={
                "db_table": "change",
                "constraints": [
                    models.UniqueConstraint(models.F("user"), models.F("seq"), name="change_user_seq_uniq")
                ],
                "indexes": [
                    models.Index(
                        condition=models.Q(("deleted", True)),
                        fields=["changed_at"],
                        name="change_tombstone_changed",
                    )
                ],
            },
        ),
        migrations.RunPython(create_triggers, drop_triggers, elidable=False),
    ]
