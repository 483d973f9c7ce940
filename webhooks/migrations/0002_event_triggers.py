"""The triggers that record webhook events, in the transaction of the change they tell of.

Every insert, update and delete of a task or category, whoever makes it (the API, the admin, a
category's ON DELETE SET NULL, plain SQL), records an event when its owner has a webhook that is
enabled and wants that event type, and a pending delivery for each such webhook. An owner without
one pays a look at their webhooks (an index) and nothing more.

The event's type: `<table>.created`, `.updated` or `.deleted`; an update that completes a task is
`task.completed`. Its data is the row as the change left it (deleted: as it was), by column name.

On PostgreSQL they are recorded by the change feed's trigger (todos/migrations/0003), deferred to
the commit, which this migration extends: once it holds the owner's change counter, so one user's
events are numbered (by their id) in commit order, and a webhook's deliveries, sent oldest first,
go in the order the changes were made. SQLite has one writer at a time, and triggers of its own.

A webhook with BACKLOG_MAX deliveries waiting gets no more: it is disabled instead, with
BACKLOG_FULL as its reason, and they are given up, as webhooks.services.disable does (a new value
of either takes a migration that makes the functions and triggers again).

A later migration that replaces `record_change` keeps its events' part.

SQLite's triggers list the row's columns (it has no row-to-JSON): those of this
migration; a column added later is rendered with its default until they are made again.
"""

from importlib import import_module

from django.db import migrations, models

from webhooks.models import BACKLOG_FULL, BACKLOG_MAX

TABLES = ("task", "category")

# The event of a change, and a pending delivery for each enabled webhook of `owner` that wants it,
# unless its backlog is full: then it is disabled instead, and what waited for it given up.
POSTGRESQL_RECORD_EVENT = """
CREATE FUNCTION "record_webhook_event"(owner text, event_type text, object_row jsonb)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    event_id bigint;
    hook record;
BEGIN
    -- FOR KEY SHARE: a webhook being deleted is waited for, then skipped (a delivery of it would
    -- break its foreign key); the worker's and the API's locks (FOR NO KEY UPDATE) are not.
    FOR hook IN
        SELECT "id" FROM "webhook"
        WHERE "userId" = owner AND "disabledAt" IS NULL AND "eventTypes" ? event_type
        ORDER BY "id"
        FOR KEY SHARE
    LOOP
        IF EXISTS (
            SELECT 1 FROM "webhook_delivery" WHERE "webhookId" = hook."id" AND "status" = 'pending'
            OFFSET {backlog} - 1 LIMIT 1
        ) THEN
            UPDATE "webhook" SET "disabledAt" = now(), "disabledReason" = '{full}' WHERE "id" = hook."id";
            UPDATE "webhook_delivery" SET "status" = 'failed', "finishedAt" = now()
            WHERE "webhookId" = hook."id" AND "status" = 'pending';
            CONTINUE;
        END IF;
        IF event_id IS NULL THEN
            INSERT INTO "webhook_event" ("userId", "type", "objectId", "data", "occurredAt")
            VALUES (owner, event_type, (object_row ->> 'id')::bigint, object_row, now())
            RETURNING "id" INTO event_id;
        END IF;
        INSERT INTO "webhook_delivery" ("webhookId", "eventId", "status", "attempts", "createdAt")
        VALUES (hook."id", event_id, 'pending', 0, now());
    END LOOP;
END
$$;
"""

# The change feed's function (todos/migrations/0003), with the events' part at its end: one trigger
# per change, deferred to the commit, where a second one cost creations and completions a tenth of
# their throughput (bench/compare.py). The events' part runs once the owner's counter is taken.
POSTGRESQL_RECORD_CHANGE = """
CREATE OR REPLACE FUNCTION "record_change"() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    owner text;
    changed_id bigint;
    next_seq bigint;
    event_type text;
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
        IF EXISTS (SELECT 1 FROM "webhook" WHERE "userId" = owner AND "disabledAt" IS NULL) THEN
            IF TG_OP = 'DELETE' THEN
                PERFORM "record_webhook_event"(owner, TG_ARGV[0] || '.deleted', to_jsonb(OLD));
            ELSIF TG_OP = 'INSERT' THEN
                PERFORM "record_webhook_event"(owner, TG_ARGV[0] || '.created', to_jsonb(NEW));
            ELSE
                event_type := TG_ARGV[0] || '.updated';
                IF TG_ARGV[0] = 'task' THEN
                    IF NEW."completed" AND NOT OLD."completed" THEN
                        event_type := 'task.completed';
                    END IF;
                END IF;
                PERFORM "record_webhook_event"(owner, event_type, to_jsonb(NEW));
            END IF;
        END IF;
    END IF;
    RETURN NULL;
END
$$;
"""

SQLITE_WANTED = """EXISTS (
    SELECT 1 FROM "webhook" AS w, json_each(w."eventTypes") AS wanted
    WHERE w."userId" = {row}."userId" AND w."disabledAt" IS NULL AND wanted.value = {event_type}
)"""

SQLITE_TRIGGER = """
CREATE TRIGGER "{table}_record_event_{operation}" AFTER {operation} ON "{table}"
WHEN {wanted}
BEGIN
    UPDATE "webhook" SET "disabledReason" = '{full}'
    WHERE "userId" = {row}."userId" AND "disabledAt" IS NULL
    AND EXISTS (SELECT 1 FROM json_each("webhook"."eventTypes") AS wanted WHERE wanted.value = {event_type})
    AND EXISTS (
        SELECT 1 FROM "webhook_delivery" AS d WHERE d."webhookId" = "webhook"."id" AND d."status" = 'pending'
        LIMIT 1 OFFSET {backlog} - 1
    );
    UPDATE "webhook_delivery" SET "status" = 'failed', "finishedAt" = {now}
    WHERE "status" = 'pending' AND "webhookId" IN (
        SELECT "id" FROM "webhook"
        WHERE "userId" = {row}."userId" AND "disabledAt" IS NULL AND "disabledReason" = '{full}'
    );
    UPDATE "webhook" SET "disabledAt" = {now}
    WHERE "userId" = {row}."userId" AND "disabledAt" IS NULL AND "disabledReason" = '{full}';
    INSERT INTO "webhook_event" ("userId", "type", "objectId", "data", "occurredAt")
    VALUES ({row}."userId", {event_type}, {row}."id", json_object({columns}), {now});
    INSERT INTO "webhook_delivery" ("webhookId", "eventId", "status", "attempts", "createdAt")
    SELECT w."id", last_insert_rowid(), 'pending', 0, {now}
    FROM "webhook" AS w, json_each(w."eventTypes") AS wanted
    WHERE w."userId" = {row}."userId" AND w."disabledAt" IS NULL AND wanted.value = {event_type}
    ORDER BY w."id";
END
"""
SQLITE_NOW = "strftime('%Y-%m-%d %H:%M:%f', 'now')"


def _sqlite_event_type(table: str, operation: str) -> str:
    if operation == "INSERT":
        return f"'{table}.created'"
    if operation == "DELETE":
        return f"'{table}.deleted'"
    if table == "task":
        return "CASE WHEN NEW.\"completed\" AND NOT OLD.\"completed\" THEN 'task.completed' ELSE 'task.updated' END"
    return f"'{table}.updated'"


def _sqlite_columns(model: type[models.Model], row: str) -> str:
    """json_object's arguments: each column's name and value; JSON columns as JSON, not text."""
    pairs = []
    for field in model._meta.concrete_fields:
        value = f'{row}."{field.column}"'
        if isinstance(field, models.JSONField):
            value = f"json({value})"
        pairs.append(f"'{field.column}', {value}")
    return ", ".join(pairs)


def create_triggers(apps, schema_editor) -> None:
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute(POSTGRESQL_RECORD_EVENT.format(backlog=BACKLOG_MAX, full=BACKLOG_FULL))
        schema_editor.execute(POSTGRESQL_RECORD_CHANGE)
    elif vendor == "sqlite":
        models_by_table = {"task": apps.get_model("todos", "Task"), "category": apps.get_model("todos", "Category")}
        for table in TABLES:
            for operation, row in (("INSERT", "NEW"), ("UPDATE", "NEW"), ("DELETE", "OLD")):
                event_type = _sqlite_event_type(table, operation)
                schema_editor.execute(
                    SQLITE_TRIGGER.format(
                        table=table,
                        operation=operation,
                        row=row,
                        event_type=event_type,
                        wanted=SQLITE_WANTED.format(row=row, event_type=event_type),
                        columns=_sqlite_columns(models_by_table[table], row),
                        now=SQLITE_NOW,
                        backlog=BACKLOG_MAX,
                        full=BACKLOG_FULL,
                    )
                )
    else:
        raise NotImplementedError(f"The webhook events' triggers are written for PostgreSQL and SQLite, not {vendor}.")


def drop_triggers(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        change_feed = import_module("todos.migrations.0003_change_feed").POSTGRESQL_FUNCTION
        schema_editor.execute(change_feed.replace("CREATE FUNCTION", "CREATE OR REPLACE FUNCTION", 1))
        schema_editor.execute('DROP FUNCTION "record_webhook_event"(text, text, jsonb)')
    else:
        for table in TABLES:
            for operation in ("INSERT", "UPDATE", "DELETE"):
                schema_editor.execute(f'DROP TRIGGER "{table}_record_event_{operation}"')


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0001_initial"),
        ("todos", "0008_task_remind_at"),
    ]

    operations = [migrations.RunPython(create_triggers, drop_triggers, elidable=False)]
